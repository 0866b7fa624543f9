"""Telegram end to end: real webhook requests in, a fake Bot API out."""
import itertools
import json
import random
import threading

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.outbound import Dispatcher
from storage.models import Attachment, Case, CitizenIdentity, InboundMessage, Outbox
from tests.conftest import wib
from tests.fakes.telegram_api import FakeBotAPI

SECRET = "s3cret-token_1"
TOKEN = "123:TEST"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
_update_ids = itertools.count(1000)
CHAT = 555001


@pytest.fixture
def bot_api():
    with FakeBotAPI(TOKEN) as api:
        yield api


@pytest.fixture
def runtime(make_runtime, bot_api):
    return make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0),
                        telegram={"token": TOKEN, "secret_token": SECRET, "api_base_url": bot_api.url})


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


def message(text=None, chat=CHAT, update_id=None, lang="id", **extra):
    m = {"message_id": 1, "date": 1744077600, "chat": {"id": chat, "type": "private", "first_name": "Siti"},
         "from": {"id": chat, "is_bot": False, "first_name": "Siti", "language_code": lang}}
    if text is not None:
        m["text"] = text
    m.update(extra)
    return {"update_id": update_id or next(_update_ids), "message": m}


def press(data, chat=CHAT):
    return {"update_id": next(_update_ids), "callback_query": {
        "id": f"cq{next(_update_ids)}", "chat_instance": "1", "data": data,
        "from": {"id": chat, "is_bot": False, "first_name": "Siti"},
        "message": {"message_id": 9, "date": 1744077600, "chat": {"id": chat, "type": "private"}}}}


def post(client, update, headers=HEADERS, forged=False):
    """Post an update; a button press only for a button Telegram really showed this chat
    (a forged one, as a modified client can send, must say so)."""
    if "callback_query" in update and not forged:
        runtime = client.application.extensions["aduan"]
        drain(runtime)  # the user sees what the bot sent, then presses
        cq = update["callback_query"]
        with runtime.sessions() as s:
            shown = {b["payload"] for p in s.scalars(select(Outbox.payload).where(
                Outbox.channel == "telegram", Outbox.chat_id == str(cq["message"]["chat"]["id"]),
                Outbox.status == "sent")) for row in p.get("buttons", []) for b in row}
        assert cq["data"] in shown, f"no button {cq['data']!r} was shown to this chat"
    return client.post("/webhooks/telegram", json=update, headers=headers)


NO_LIMITS = {"telegram": (0.0, 10_000)}  # the limits themselves are tested in test_outbound


def drain(runtime):
    Dispatcher(runtime, runtime.senders, sleep=lambda s: None, limits=NO_LIMITS).run_once()


def count(runtime, model):
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                                     {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"}])
def test_without_the_secret_nothing_is_stored(client, runtime, headers):
    assert post(client, message("/start"), headers).status_code == 403
    assert count(runtime, InboundMessage) == 0 and count(runtime, Outbox) == 0


def test_no_configured_secret_refuses_everything(make_runtime):
    runtime = make_runtime(telegram={"token": TOKEN})
    r = create_app(runtime=runtime).test_client().post("/webhooks/telegram", json=message("/start"), headers=HEADERS)
    assert r.status_code == 403


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"message": {}}', b'{"update_id": "x"}',
                                  b'{"update_id": 5, "message": {"chat": 1}}'])
def test_a_malformed_update_is_400_and_stores_nothing(client, runtime, body):
    r = client.post("/webhooks/telegram", data=body, headers={**HEADERS, "Content-Type": "application/json"})
    assert r.status_code == 400
    assert count(runtime, InboundMessage) == 0


def test_the_whole_intake_through_the_webhook_and_the_bot_api(client, runtime, bot_api):
    assert post(client, message("/start")).status_code == 200
    r = post(client, press("agree"))
    assert r.get_json()["method"] == "answerCallbackQuery"  # the button never spins
    post(client, press("file"))
    post(client, message("Siti Aminah"))
    post(client, press("skip"))
    post(client, {**message(), "message": {**message()["message"], "contact": {
        "phone_number": "6281234567890", "first_name": "Siti", "user_id": CHAT}}})
    post(client, press("pengaduan"))
    post(client, message("Lampu jalan di depan kantor mati sejak seminggu."))
    post(client, message(caption="fotonya", photo=[
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1000},
        {"file_id": "large", "file_unique_id": "l", "width": 800, "height": 800, "file_size": 90000}]))
    post(client, press("next"))
    post(client, press("biasa"))
    post(client, press("submit"))
    drain(runtime)
    sent = bot_api.sent()
    texts = [p["text"] for p in sent]
    assert texts[0] == "Selamat datang di layanan pengaduan Aduan."
    # ticket numbers go out in <code> (HTML parse mode): a tap copies them
    assert any(t.startswith("Terima kasih, pengaduan Anda sudah kami terima dengan nomor tiket "
                            "<code>ADU-2025-000001</code>") for t in texts)
    assert all(p["parse_mode"] == "HTML" for p in sent)
    assert all(int(p["chat_id"]) == CHAT for p in sent)
    # inline keyboards carry the payloads as callback data
    consent = sent[1]
    keyboard = json.loads(consent["reply_markup"]) if isinstance(consent["reply_markup"], str) else consent["reply_markup"]
    assert [b[0]["callback_data"] for b in keyboard["inline_keyboard"]] == ["agree", "disagree", "language"]
    # the phone question offers Telegram's share-contact button
    phone_q = next(p for p in sent if p["text"].startswith("Nomor telepon Anda?"))
    markup = json.loads(phone_q["reply_markup"]) if isinstance(phone_q["reply_markup"], str) else phone_q["reply_markup"]
    assert markup["keyboard"][0][0]["request_contact"] is True
    saved = next(p for p in sent if p["text"].startswith("Nomor telepon +6281234567890 disimpan"))
    assert "remove_keyboard" in str(saved["reply_markup"])
    with runtime.sessions() as s:
        case = s.scalar(select(Case))
        assert case.channel == "telegram" and case.citizen.phone == "+6281234567890"
        assert [a.provider_ref for a in s.scalars(select(Attachment))] == ["large"]
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status != "sent")) == 0


def test_the_same_update_three_times_at_once_makes_one_effect(runtime):
    update = message("/start", update_id=77777)
    app = create_app(runtime=runtime)
    results = []

    def deliver():
        results.append(app.test_client().post("/webhooks/telegram", json=update, headers=HEADERS).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200, 200, 200]
    assert count(runtime, InboundMessage) == 1
    assert count(runtime, Outbox) == 2  # the greeting and the privacy notice, once


def test_updates_replayed_three_times_out_of_order_and_concurrently_have_one_effect_each(runtime):
    """What Telegram does after a timeout: the same updates again, in any order, at once."""
    updates = [message("/start", chat=8800 + n) for n in range(8)]
    copies = [u for u in updates for _ in range(3)]
    random.Random(6).shuffle(copies)
    app = create_app(runtime=runtime)
    results, lock = [], threading.Lock()

    def deliver(share):
        client = app.test_client()
        for update in share:
            status = client.post("/webhooks/telegram", json=update, headers=HEADERS).status_code
            with lock:
                results.append(status)

    threads = [threading.Thread(target=deliver, args=(copies[k::6],)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * len(copies)
    assert count(runtime, InboundMessage) == len(updates)
    with runtime.sessions() as s:  # the greeting and the privacy notice, once per chat
        per_chat = dict(s.execute(select(Outbox.chat_id, func.count()).group_by(Outbox.chat_id)).all())
    assert per_chat == {str(8800 + n): 2 for n in range(8)}


def test_edited_messages_and_group_chats_are_recorded_and_ignored(client, runtime):
    edited = {"update_id": next(_update_ids), "edited_message": message("x")["message"] | {"edit_date": 1}}
    assert post(client, edited).status_code == 200
    group = message("/start")
    group["message"]["chat"] = {"id": -100123, "type": "supergroup", "title": "Petugas"}
    assert post(client, group).status_code == 200
    assert count(runtime, InboundMessage) == 2 and count(runtime, Outbox) == 0


def test_a_sticker_mid_form_gets_a_reprompt(client, runtime, bot_api):
    post(client, message("/start"))
    post(client, press("agree"))
    post(client, press("file"))
    post(client, message(sticker={"file_id": "st", "file_unique_id": "st", "type": "regular",
                                  "width": 512, "height": 512, "is_animated": False, "is_video": False}))
    drain(runtime)
    texts = [p["text"] for p in bot_api.sent()]
    assert texts[-2:] == ["Mohon jawab dengan teks.", "Siapa nama Anda?"]


def test_429_waits_retry_after_then_delivers_each_message_once_in_order(client, runtime, bot_api):
    now = [wib(2025, 4, 8, 9, 0)]
    runtime.clock = lambda: now[0]
    post(client, message("/start"))
    bot_api.too_many(retry_after=3)
    dispatcher = Dispatcher(runtime, runtime.senders, clock=lambda: now[0], sleep=lambda s: None,
                            limits=NO_LIMITS)
    dispatcher.run_once()
    with runtime.sessions() as s:
        rows = s.scalars(select(Outbox).order_by(Outbox.id)).all()
        assert [r.status for r in rows] == ["pending", "pending"]
        assert rows[0].next_attempt_at == wib(2025, 4, 8, 9, 0, 3)  # retry_after honoured
    dispatcher.run_once()  # too early: nothing goes
    assert len(bot_api.sent()) == 1  # only the refused attempt so far
    now[0] = wib(2025, 4, 8, 9, 0, 4)
    dispatcher.run_once()
    texts = [p["text"] for p in bot_api.sent()]
    assert texts[1] == "Selamat datang di layanan pengaduan Aduan." and texts[2].startswith("Sebelum mulai")
    assert len(texts) == 3
    with runtime.sessions() as s:
        assert [r.status for r in s.scalars(select(Outbox).order_by(Outbox.id))] == ["sent", "sent"]


def test_a_citizen_who_blocked_the_bot_is_not_written_to(client, runtime, bot_api):
    post(client, message("/start"))
    bot_api.blocked.add(CHAT)
    drain(runtime)
    with runtime.sessions() as s:
        rows = s.scalars(select(Outbox).order_by(Outbox.id)).all()
        assert [r.status for r in rows] == ["failed", "failed"]
        assert rows[0].error.startswith("undeliverable: Forbidden: bot was blocked")
        assert s.scalar(select(CitizenIdentity)).blocked_at is not None
    blocked = {"update_id": next(_update_ids), "my_chat_member": {
        "chat": {"id": CHAT, "type": "private"}, "from": {"id": CHAT, "is_bot": False, "first_name": "S"},
        "date": 1744077600,
        "old_chat_member": {"status": "member", "user": {"id": 999, "is_bot": True, "first_name": "A"}},
        "new_chat_member": {"status": "kicked", "until_date": 0, "user": {"id": 999, "is_bot": True, "first_name": "A"}}}}
    assert post(client, blocked).status_code == 200


def test_set_webhook_command(bot_api, tmp_path):
    from click.testing import CliRunner

    from bot.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[telegram]\ntoken = "{TOKEN}"\nsecret_token = "{SECRET}"\napi_base_url = "{bot_api.url}"\n')
    r = CliRunner().invoke(main, ["--config", str(cfg), "telegram", "set-webhook", "https://aduan.contoh.go.id/webhooks/telegram"])
    assert r.exit_code == 0, r.output
    call = [x.params() for x in bot_api.requests if x.path.endswith("/setWebhook")][0]
    assert call["url"] == "https://aduan.contoh.go.id/webhooks/telegram" and call["secret_token"] == SECRET
    assert "callback_query" in str(call["allowed_updates"]) and "my_chat_member" in str(call["allowed_updates"])


def test_the_worker_fetches_attached_photos(client, runtime, bot_api, tmp_path):
    from bot.attachments import AttachmentFetcher

    bot_api.files["large"] = b"\xff\xd8jpeg-bytes"
    post(client, message("/start"))
    post(client, press("agree"))
    post(client, press("file"))
    post(client, message("Siti"))
    post(client, press("skip"))  # email
    post(client, press("skip"))  # phone
    post(client, press("pengaduan"))
    post(client, message("Lampu jalan di depan kantor mati sejak seminggu."))
    post(client, message(photo=[{"file_id": "large", "file_unique_id": "l", "width": 8, "height": 8,
                                 "file_size": 11}]))
    post(client, press("next"))
    post(client, press("biasa"))
    post(client, press("submit"))
    fetcher = AttachmentFetcher(runtime, runtime.senders, tmp_path / "files", 1024)
    assert fetcher.run_once() == 1
    with runtime.sessions() as s:
        att = s.scalar(select(Attachment))
        assert att.fetched_at is not None and att.fetch_error is None
        assert open(att.stored_path, "rb").read() == b"\xff\xd8jpeg-bytes"
    assert fetcher.run_once() == 0  # fetched once


@pytest.mark.parametrize("update", [
    {"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": 5, "type": "private"}, "text": 5}},
    {"update_id": 2, "my_chat_member": {"chat": {"id": 5, "type": "private"}, "date": 1}},
])
def test_authenticated_but_malformed_updates_are_400(client, runtime, update):
    assert post(client, update).status_code == 400
    assert count(runtime, InboundMessage) == 0


def test_only_the_citizens_own_contact_counts_as_their_phone(client, runtime, bot_api):
    post(client, message("/start"))
    post(client, press("agree"))
    post(client, press("file"))
    post(client, message("Siti"))
    post(client, press("skip"))
    someone_else = message()
    someone_else["message"]["contact"] = {"phone_number": "6281299999999", "first_name": "X", "user_id": 1}
    post(client, someone_else)
    drain(runtime)
    assert [p["text"] for p in bot_api.sent()][-2] == "Mohon jawab dengan teks."
