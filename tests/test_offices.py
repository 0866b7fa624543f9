"""Two offices on one deployment, each with its own Telegram bot, workflow and calendar:
the same person writes to both bots, each office's officers work their own cases, and
nothing crosses: no officer, query, ticket, digest, report, export or notice.

Office A is the config file's (sp4n-lapor, WIB); office B ("kota-b") is a row added as
`aduan office add` adds it (pst-sorong, WIT: two hours ahead of A).
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from bot.reports.monthly import month_bounds
from storage.models import Case, Citizen, CitizenIdentity, Dialog, InboundMessage, Outbox
from storage.offices import add_office
from storage.officers import invite
from storage.privacy_export import citizen_data
from storage.reporting import figures
from storage.scoping import CrossOffice
from tests.conftest import wib
from tests.fakes.telegram_api import FakeBotAPI
from tests.wire import SECRET, TOKEN, TelegramUser, World

TOKEN_B, SECRET_B = "456:KOTAB", "secret-kota-b"
GROUP_A, GROUP_B = -100111, -100222


class UserOfB(TelegramUser):
    """Someone writing to office B's bot."""

    path, secret, fake = "/webhooks/telegram/kota-b", SECRET_B, "telegram_api_b"


@pytest.fixture
def two(make_runtime):
    now = [wib(2025, 4, 8, 9, 0)]
    with FakeBotAPI(TOKEN) as api_a, FakeBotAPI(TOKEN_B) as api_b:
        rt = make_runtime(clock=lambda: now[0], office={"name": "BPS Provinsi A"},
                          telegram={"token": TOKEN, "secret_token": SECRET, "api_base_url": api_a.url,
                                    "officer_group_chat_id": GROUP_A})
        with rt.transaction() as s:
            add_office(s, "kota-b", {"office": {"name": "BPS Kota B"}, "workflow": {"preset": "pst-sorong"},
                                     "telegram": {"token": TOKEN_B, "secret_token": SECRET_B,
                                                  "api_base_url": api_b.url, "officer_group_chat_id": GROUP_B}})
        world = World(rt, api_a)
        world.telegram_api_b = api_b
        world.now = now
        yield world, rt.default, rt.office_by_code("kota-b")


def file(citizen, wf, text) -> str:
    """The citizen's whole form on Telegram; the ticket the bot confirms."""
    citizen.say("/start")
    citizen.pick("Setuju")
    citizen.pick("Ajukan pengaduan")
    citizen.say("Siti Aminah")
    citizen.say("siti@contoh.go.id")
    citizen.pick("Lewati")
    citizen.pick("Pengaduan")
    if wf.categories:
        citizen.pick(citizen.options()[0][0])
    citizen.say(text)
    citizen.pick("Lanjut")
    citizen.pick("Biasa")
    citizen.pick("Kirim pengaduan")
    confirmation = next(t for t in citizen.read() if "nomor tiket" in t)
    return confirmation.split("nomor tiket ")[1].split(".")[0]


def enrol(world, office, person, role=None):
    role = role or office.workflow.roles_of_kind("coordinator")[0]
    with office.transaction() as s:
        _, code = invite(s, office.workflow, role, now=office.clock())
    person.say(f"/petugas {code}")
    assert any(t.startswith("Anda terdaftar sebagai petugas") for t in person.read())
    return code


def sent_to(api, chat_id) -> list[str]:
    return [r.params().get("text", "") for r in api.requests
            if r.path.endswith("/sendMessage") and str(r.params().get("chat_id")) == str(chat_id)]


def test_two_offices_share_nothing_but_the_deployment(two):
    world, a, b = two
    # The same person (one Telegram account) writes to both offices' bots.
    citizen_a, citizen_b = TelegramUser(world, 1), UserOfB(world, 1)
    assert citizen_a.chat_id == citizen_b.chat_id
    ticket_a = file(citizen_a, a.workflow, "Lampu jalan di depan kantor provinsi mati.")
    ticket_b = file(citizen_b, b.workflow, "Data inflasi kota belum terbit bulan ini.")
    # Ticket numbers are per office: both offices' first ticket of the year.
    assert ticket_a == ticket_b == "ADU-2025-000001"

    # Every message to the citizen went through the bot of the office it came from.
    to_a, to_b = sent_to(world.telegram_api, citizen_a.chat_id), sent_to(world.telegram_api_b, citizen_b.chat_id)
    assert any("BPS Provinsi A" in t for t in to_a) and not any("BPS Kota B" in t for t in to_a)
    assert any("BPS Kota B" in t for t in to_b) and not any("BPS Provinsi A" in t for t in to_b)
    # New-case notices go to each office's own officers' group, one each.
    assert [ticket_a in t for t in sent_to(world.telegram_api, GROUP_A)] == [True]
    assert sent_to(world.telegram_api, GROUP_B) == [] and sent_to(world.telegram_api_b, GROUP_A) == []
    assert [ticket_b in t for t in sent_to(world.telegram_api_b, GROUP_B)] == [True]

    # Officers: each enrolled on their office's bot; a code of A typed on B's bot fails.
    officer_a, officer_b = TelegramUser(world, 50), UserOfB(world, 60)
    enrol(world, a, officer_a)
    with a.transaction() as s:
        _, code_of_a = invite(s, a.workflow, a.workflow.roles_of_kind("coordinator")[0], now=a.clock())
    officer_b.say(f"/petugas {code_of_a}")
    assert any("Kode itu tidak berlaku" in t for t in officer_b.read())
    enrol(world, b, officer_b)

    # The same ticket names a different case in each office: each officer sees their own.
    officer_a.say(f"/kasus {ticket_a}")
    card_a = "\n".join(officer_a.read())
    assert "kantor provinsi" in card_a and "inflasi" not in card_a
    officer_b.say(f"/kasus {ticket_b}")
    card_b = "\n".join(officer_b.read())
    assert "inflasi" in card_b and "kantor provinsi" not in card_b
    officer_a.say("/antrian")
    queue_a = "\n".join(officer_a.read())
    assert queue_a.count(ticket_a) == 1

    # Digests come on each office's own calendar: 06:00 WIB is 08:00 WIT, past B's 07:30.
    world.now[0] = wib(2025, 4, 9, 6, 0)
    world.runtime.scheduler.tick()
    digest_b = [t for t in officer_b.read() if ticket_b in t]
    assert digest_b and not [t for t in officer_a.read() if ticket_a in t]
    world.now[0] = wib(2025, 4, 9, 7, 31)
    world.runtime.scheduler.tick()
    digest_a = "\n".join(officer_a.read())
    assert digest_a.count(ticket_a) == 1 and not officer_b.read()  # B's ran once, today

    # Queries, reports and exports in an office's sessions see that office's rows only.
    for office, text in ((a, "kantor provinsi"), (b, "inflasi")):
        start, end = month_bounds(office.calendar, "2025-04")
        with office.sessions() as s:
            assert [c.text for c in s.scalars(select(Case))] == [next(
                c.text for c in s.scalars(select(Case)) if text in c.text)]
            assert figures(s, office.workflow, office.calendar, start, end).total == 1
            citizen = s.scalar(select(Citizen).join(CitizenIdentity).where(
                CitizenIdentity.external_id == str(citizen_a.chat_id)))
            export = citizen_data(s, citizen, office.clock())
            assert [c["ticket"] for c in export["cases"]] == ["ADU-2025-000001"]
            assert text in str(export) and ("inflasi" if office is a else "kantor provinsi") not in str(export)
    # Across the deployment both exist, each with its office.
    with world.runtime.sessions() as s:
        offices = sorted(s.scalars(select(Case.office_id)))
        assert offices == [a.id, b.id]
        assert {r.office_id for r in s.scalars(select(Outbox))} == {a.id, b.id}
        assert {r.office_id for r in s.scalars(select(InboundMessage))} == {a.id, b.id}


def test_an_office_session_cannot_reach_or_write_another_office_s_rows(two):
    world, a, b = two
    citizen = TelegramUser(world, 2)
    file(citizen, a.workflow, "Lampu jalan di depan kantor provinsi mati.")
    with a.sessions() as s:
        case = s.scalar(select(Case))
    with b.sessions() as s:
        assert s.get(Case, case.id) is None
        assert s.scalar(select(Case).where(Case.ticket == case.ticket)) is None
    with pytest.raises(CrossOffice):
        with b.transaction() as s:
            s.add(Outbox(office_id=a.id, channel="telegram", chat_id="1", payload={"text": "x"}))
    with pytest.raises(CrossOffice):
        with b.transaction() as s:
            s.merge(case).text = "changed from the other office"
    with a.sessions() as s:
        assert s.get(Case, case.id).text == "Lampu jalan di depan kantor provinsi mati."


def test_an_unknown_office_s_webhook_is_refused_like_a_wrong_secret(two):
    world, a, b = two
    client = world.app.test_client()
    update = {"update_id": 1, "message": {"message_id": 1, "date": 1, "text": "/start",
                                          "chat": {"id": 5, "type": "private"}, "from": {"id": 5, "is_bot": False,
                                                                                          "first_name": "X"}}}
    assert client.post("/webhooks/telegram/nowhere", json=update,
                       headers={"X-Telegram-Bot-Api-Secret-Token": SECRET_B}).status_code == 403
    # Office B's secret does not open office A's webhook, nor A's B's.
    assert client.post("/webhooks/telegram", json=update,
                       headers={"X-Telegram-Bot-Api-Secret-Token": SECRET_B}).status_code == 403
    assert client.post("/webhooks/telegram/kota-b", json=update,
                       headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}).status_code == 403
    with world.runtime.sessions() as s:
        assert s.scalar(select(InboundMessage)) is None


def test_each_office_has_its_web_chat_under_its_own_address(two):
    world, a, b = two
    browser = world.app.test_client()  # one browser, both offices' pages
    page = browser.get("/o/kota-b/")
    assert page.status_code == 200 and "BPS Kota B" in page.text and 'data-base="/o/kota-b"' in page.text
    assert browser.get("/o/kota-b/webchat/chat.js").status_code == 200
    assert browser.get("/o/nowhere/").status_code == 404

    def say(base, n, text):
        assert browser.post(f"{base}/webchat/api/messages", json={"id": f"msg-{n:08d}", "text": text}).status_code == 200
        return [m["text"] for m in browser.get(f"{base}/webchat/api/messages?after=0").json["messages"]]

    to_b = say("/o/kota-b", 1, "/mulai")
    assert any("BPS Kota B" in t for t in to_b)
    to_a = say("", 2, "/mulai")
    assert any("BPS Provinsi A" in t for t in to_a) and not any("BPS Kota B" in t for t in to_a)
    # The first office's session did not replace the other's: B's conversation is still there.
    again = [m["text"] for m in browser.get("/o/kota-b/webchat/api/messages?after=0").json["messages"]]
    assert again == to_b
    with world.runtime.sessions() as s:
        rows = s.execute(select(InboundMessage.office_id, InboundMessage.chat_id).order_by(InboundMessage.id)).all()
    assert [office for office, _ in rows] == [b.id, a.id] and rows[0][1] != rows[1][1]


def test_whatsapp_finds_the_office_by_the_number_written_to(make_runtime):
    from twilio.request_validator import RequestValidator

    from tests.fakes.twilio_api import FakeTwilioAPI
    from tests.wire import AUTH, PUBLIC_URL, SENDER, SID, channel_settings

    number_b = "+6281100000222"
    with FakeTwilioAPI(SID) as api:
        api.auth = AUTH
        rt = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), office={"name": "BPS Provinsi A"},
                          **channel_settings(twilio_api=api))
        with rt.transaction() as s:  # the same Twilio account, its own sender number
            add_office(s, "kota-b", {"office": {"name": "BPS Kota B"}, "whatsapp": {"from_number": number_b}})
        world = World(rt, twilio_api=api)
        for to in (SENDER, number_b):
            params = {"MessageSid": f"SM{to[-3:]}{'0' * 29}", "AccountSid": SID, "From": "whatsapp:+6281234567890",
                      "To": f"whatsapp:{to}", "NumMedia": "0", "Body": "Halo"}
            signature = RequestValidator(AUTH).compute_signature(PUBLIC_URL, params)
            assert world.app.test_client().post("/webhooks/whatsapp", data=params,
                                                headers={"X-Twilio-Signature": signature}).status_code == 200
        world.deliver()
    sent = [(r.params()["From"], r.params()["Body"]) for r in api.requests if r.path.endswith("/Messages.json")]
    assert any(frm == f"whatsapp:{SENDER}" and "BPS Provinsi A" in body for frm, body in sent)
    assert any(frm == f"whatsapp:{number_b}" and "BPS Kota B" in body for frm, body in sent)
    assert not any(frm == f"whatsapp:{SENDER}" and "BPS Kota B" in body for frm, body in sent)
    with rt.sessions() as s:
        assert sorted(s.scalars(select(InboundMessage.office_id))) == [1, rt.office_by_code("kota-b").id]


def test_an_expired_form_in_one_office_clears_only_that_office_s_messages(two):
    """The same Telegram account starts a form at both offices' bots; office A's expires
    (housekeeping runs across offices): what A echoed is cleared, B's messages stay."""
    from datetime import timedelta

    from storage.dialogs import purge_expired

    world, a, b = two
    for person in (TelegramUser(world, 3), UserOfB(world, 3)):
        person.say("/start")
        person.pick("Setuju")
        person.pick("Ajukan pengaduan")
        person.say("Siti Aminah")
        person.read()
    with b.transaction() as s:  # B's form is still young; A's expires
        s.execute(update(Dialog).values(expires_at=world.now[0] + timedelta(days=30)))
    with world.runtime.transaction() as s:
        assert purge_expired(s, world.now[0] + timedelta(days=2)) == 1
    with world.runtime.sessions() as s:
        cleared = dict(s.execute(select(Outbox.office_id, func.count()).where(Outbox.cleared_at.is_not(None))
                                 .group_by(Outbox.office_id)).all())
    assert cleared.get(a.id, 0) > 0 and b.id not in cleared
