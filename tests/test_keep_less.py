"""Keep less (UU 27/2022): deliveries are stored as an outline, never as the provider sent
them; an enrolment code is never readable; a cancelled or expired form leaves no text;
outbox texts go privacy.outbox_text_days after delivery while a typed "1" still works."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.outbound import Housekeeping
from storage.db import transaction
from storage.models import Dialog, InboundMessage, Outbox
from storage.officers import invite
from tests.chat import Chat
from tests.conftest import wib
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_telegram import SECRET, TOKEN, drain, message, post, press

NAME, EMAIL, PHONE, DIGITS = "Bambang Pamungkas", "bambang.p@contoh.id", "081277788899", "81277788899"
TEXT = "Pungutan liar di loket KTP kecamatan Sukamaju"
FORM = [NAME, EMAIL, DIGITS, TEXT]


@pytest.fixture
def bot_api():
    with FakeBotAPI(TOKEN) as api:
        yield api


@pytest.fixture
def clock():
    return [wib(2025, 4, 8, 9, 0)]


@pytest.fixture
def runtime(make_runtime, bot_api, clock):
    return make_runtime(clock=lambda: clock[0], privacy={"outbox_text_days": 30},
                        telegram={"token": TOKEN, "secret_token": SECRET, "api_base_url": bot_api.url})


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


def rows(runtime, model) -> str:
    with runtime.sessions() as s:
        return "\n".join(repr({c.name: getattr(r, c.name) for c in model.__table__.columns})
                         for r in s.scalars(select(model)))


def readable(runtime, needles) -> list[str]:
    text = "\n".join(rows(runtime, m) for m in (InboundMessage, Outbox, Dialog)).casefold()
    return [n for n in needles if n.casefold() in text]


def to_summary(client, runtime):
    """A citizen on Telegram fills the whole form up to its summary (which echoes it all)."""
    for update in (message("/start"), press("agree"), press("file"), message(NAME), message(EMAIL),
                   message(PHONE), press("pengaduan"), message(TEXT), press("next"), press("biasa")):
        assert post(client, update).status_code == 200
    drain(runtime)


def test_a_delivery_is_kept_as_an_outline_only(client, runtime):
    to_summary(client, runtime)
    with runtime.sessions() as s:
        kept = [r.payload for r in s.scalars(select(InboundMessage).order_by(InboundMessage.id))]
    assert kept[0] == {"event": "message", "command": "start"}
    assert kept[1] == {"event": "message", "button": True} and kept[3] == {"event": "message"}
    assert readable(runtime, ["Siti", "first_name"]) == []  # Telegram's profile name is not kept either


def test_the_enrolment_code_is_never_stored(client, runtime):
    with transaction(runtime.sessions) as s:
        _, code = invite(s, runtime.workflow, "admin", None, now=runtime.clock())
    post(client, message(f"/petugas {code}", chat=777001))
    post(client, message(f"/officer {code.lower()}x", chat=777002))  # a wrong one: no trace either
    drain(runtime)
    assert "terdaftar sebagai petugas" in rows(runtime, Outbox)
    with runtime.sessions() as s:
        assert [r.payload for r in s.scalars(select(InboundMessage))] == [
            {"event": "message", "command": "petugas"}, {"event": "message", "command": "officer"}]
    assert readable(runtime, [code]) == []


def test_a_cancelled_form_leaves_no_text(client, runtime):
    to_summary(client, runtime)
    assert readable(runtime, FORM) == FORM  # the summary the bot echoed, delivered
    post(client, message("/batal"))
    drain(runtime)
    assert readable(runtime, FORM) == []
    with runtime.sessions() as s:  # the chat goes on: the menu after "cancelled" is answered
        assert s.scalars(select(Outbox.payload).order_by(Outbox.id.desc())).first()["buttons"]
    assert post(client, message("1")).status_code == 200  # "1": file a complaint
    drain(runtime)
    with runtime.sessions() as s:
        assert s.scalar(select(Dialog.state))["step"] == "name"


def test_an_expired_form_leaves_no_text(client, runtime, clock):
    to_summary(client, runtime)
    clock[0] += timedelta(hours=25)  # past intake.expire_hours
    Housekeeping(runtime).run_once()
    assert readable(runtime, FORM) == []


def test_a_form_found_expired_by_the_next_message_leaves_no_text(client, runtime, clock):
    to_summary(client, runtime)
    clock[0] += timedelta(hours=25)
    post(client, message("halo"))
    assert readable(runtime, FORM) == []


def test_outbox_texts_go_after_n_days_and_1_still_answers(runtime, clock):
    from storage.units import add_unit
    from tests.test_rating import answered_case

    with transaction(runtime.sessions) as s:
        add_unit(s, "KEU", "Keuangan")
    chat, ticket = answered_case(runtime)  # the last question: solved / not solved, with the answer
    clock[0] += timedelta(days=29)
    Housekeeping(runtime).run_once()
    assert "Sudah diperbaiki." in rows(runtime, Outbox)
    clock[0] += timedelta(days=2)
    Housekeeping(runtime).run_once()
    with runtime.sessions() as s:
        # Every delivered row is cleared (the officers' Telegram chats, where they enrolled
        # before linking the web chat, were never read here: undelivered, they keep theirs).
        kept = s.scalars(select(Outbox).where(Outbox.status == "sent").order_by(Outbox.id)).all()
        assert kept and all(r.payload["text"] == "" and r.cleared_at for r in kept)
        assert not any("Sudah diperbaiki." in r.payload["text"] for r in kept)
    # "1" is still "solved" (not the menu's "file a complaint"): the buttons stayed.
    assert chat.say("1")[0].startswith(f"Terima kasih. Berapa nilai Anda untuk penanganan {ticket}")
    assert chat.say("9")[0] == "Mohon pilih nilai 1 sampai 5."


def test_messages_not_delivered_keep_their_text(runtime, clock):
    Chat(runtime, chat_id="w-antri").say("/mulai")  # nobody fetched these
    with transaction(runtime.sessions) as s:
        for row in s.scalars(select(Outbox)):
            row.status = "pending"
    clock[0] += timedelta(days=40)
    Housekeeping(runtime).run_once()
    with runtime.sessions() as s:
        assert all(p["text"] for p in s.scalars(select(Outbox.payload)))


def test_a_cancelled_walk_in_record_leaves_no_text_in_the_officers_chat(runtime):
    from tests.chat import enrol

    admin = enrol(runtime, "admin", chat_id="w-desk")
    admin.say("/catat")
    admin.say("1")  # front desk
    for answer in (NAME, EMAIL, PHONE, "pengaduan", TEXT, "Lanjut", "Biasa"):
        admin.say(answer)
    assert readable(runtime, FORM) == FORM  # the summary, in the officer's chat
    assert admin.say("/batal")[0].startswith("Dibatalkan")
    assert readable(runtime, FORM) == []
