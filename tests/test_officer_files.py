"""Officers open the citizen's files: on Telegram the card's button makes the bot send them
(by file_id, or an upload of the stored copy); elsewhere a signed, expiring link that Aduan
serves only to an officer still allowed to see the case."""
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import create_app
from storage.db import transaction
from storage.models import Attachment, Officer
from storage.officers import invite, revoke
from storage.units import add_unit
from tests.chat import Chat, link_webchat
from tests.conftest import wib
from tests.fakes.http import Upload
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_telegram import CHAT, SECRET, TOKEN, drain, message, post, press

ADMIN, STRANGER_OFFICER = 700001, 700002
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND"
       b"\xaeB`\x82")


@pytest.fixture
def bot_api():
    with FakeBotAPI(TOKEN) as api:
        yield api


@pytest.fixture
def clock():
    return [wib(2025, 4, 8, 9, 0)]


@pytest.fixture
def runtime(make_runtime, bot_api, clock, tmp_path):
    rt = make_runtime(clock=lambda: clock[0], server={"public_url": "https://aduan.contoh.go.id"},
                      intake={"attachments_dir": str(tmp_path / "files")},
                      telegram={"token": TOKEN, "secret_token": SECRET, "api_base_url": bot_api.url})
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Bagian Keuangan")
        add_unit(s, "PU", "Pekerjaan Umum")
    return rt


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


def markup(params):
    raw = params.get("reply_markup")
    return json.loads(raw) if isinstance(raw, str) else (raw or {})


def enrol(client, runtime, chat, role, unit=None):
    with transaction(runtime.sessions) as s:
        officer, code = invite(s, runtime.workflow, role, unit, now=wib(2025, 4, 8, 8, 0))
    post(client, message(f"/petugas {code}", chat=chat))
    return officer.id


def telegram_case_with_photo(client, runtime, bot_api):
    """A citizen files a complaint on Telegram with a photo; returns the ticket."""
    bot_api.files["AgAD-big"] = b"\xff\xd8the-jpeg"
    for update in (message("/start"), press("agree"), press("file"), message("Siti"), press("skip"),
                   press("skip"), press("pengaduan"), message("Lampu jalan di depan kantor mati sejak seminggu."),
                   message(photo=[{"file_id": "AgAD-big", "file_unique_id": "b", "width": 8, "height": 8,
                                   "file_size": 10}]),
                   press("next"), press("biasa"), press("submit")):
        post(client, update)
    return "ADU-2025-000001"


def card_button(bot_api, chat, ticket):
    """The attachments button of the last case card the bot sent to this chat."""
    cards = [p for p in bot_api.sent() if int(p["chat_id"]) == chat and p["text"].startswith(f"<code>{ticket}")]
    buttons = [b for row in markup(cards[-1])["inline_keyboard"] for b in row]
    return next(b for b in buttons if b["text"].startswith("📎 Lampiran"))


def test_the_card_button_sends_the_photo_by_its_file_id(client, runtime, bot_api):
    ticket = telegram_case_with_photo(client, runtime, bot_api)
    enrol(client, runtime, ADMIN, "admin")
    post(client, message(f"/kasus {ticket}", chat=ADMIN))
    drain(runtime)
    card = next(p for p in bot_api.sent() if p["text"].startswith(f"<code>{ticket}"))
    assert "• Foto · image/jpeg · 1 KB · belum diambil" in card["text"]
    button = card_button(bot_api, ADMIN, ticket)
    assert button["text"] == "📎 Lampiran (1)"
    post(client, press(button["callback_data"], chat=ADMIN))
    drain(runtime)
    [(method, params)] = bot_api.sent_files()
    assert method == "sendPhoto" and params["photo"] == "AgAD-big" and int(params["chat_id"]) == ADMIN
    assert params["caption"] == f"<code>{ticket}</code> · Foto · image/jpeg · 1 KB (1/1)"


def test_another_units_officer_pressing_the_same_button_gets_nothing(client, runtime, bot_api):
    ticket = telegram_case_with_photo(client, runtime, bot_api)
    enrol(client, runtime, ADMIN, "admin")
    enrol(client, runtime, STRANGER_OFFICER, "unit_officer", "PU")
    post(client, message(f"/kasus {ticket}", chat=ADMIN))
    drain(runtime)
    data = card_button(bot_api, ADMIN, ticket)["callback_data"]
    for chat in (STRANGER_OFFICER, CHAT):  # an officer of another unit, and the citizen, forging it
        post(client, press(data, chat=chat), forged=True)
    drain(runtime)
    assert bot_api.sent_files() == []
    refused = [p["text"] for p in bot_api.sent() if int(p["chat_id"]) == STRANGER_OFFICER][-1]
    assert refused == f"Peran atau unit Anda tidak dapat melakukan tindakan ini pada <code>{ticket}</code>."


def test_a_file_from_another_channel_is_uploaded_from_the_stored_copy(client, runtime, bot_api):
    web = create_app(runtime=runtime).test_client()
    for n, body in enumerate(({"text": "/mulai"}, {"button": "agree"}, {"button": "file"}, {"text": "Siti"},
                              {"button": "skip"}, {"button": "skip"}, {"button": "pengaduan"},
                              {"text": "Antrian di loket pelayanan sangat panjang."})):
        web.post("/webchat/api/messages", json={"id": f"before-{n:04d}", **body})
    web.post("/webchat/api/files", data={"id": "upload-0001", "file": (io.BytesIO(PNG), "bukti.png", "image/png")},
             content_type="multipart/form-data")
    for n, body in enumerate(({"button": "next"}, {"button": "biasa"}, {"button": "submit"})):
        web.post("/webchat/api/messages", json={"id": f"after-{n:04d}", **body})
    assert runtime.outbound.fetcher.run_once() == 1
    enrol(client, runtime, ADMIN, "admin")
    post(client, message("/kasus ADU-2025-000001", chat=ADMIN))
    drain(runtime)
    post(client, press(card_button(bot_api, ADMIN, "ADU-2025-000001")["callback_data"], chat=ADMIN))
    drain(runtime)
    [(method, params)] = bot_api.sent_files()
    assert method == "sendPhoto" and isinstance(params["photo"], Upload)
    assert params["photo"].data == PNG and params["photo"].filename == "bukti.png"


def test_a_document_goes_back_as_a_document(client, runtime, bot_api):
    ticket = telegram_case_with_photo(client, runtime, bot_api)
    with transaction(runtime.sessions) as s:  # as if the citizen had sent a PDF instead
        a = s.scalar(select(Attachment))
        a.media_type, a.content_type, a.provider_ref = "document", "application/pdf", "BQAD-doc"
    bot_api.kinds["BQAD-doc"] = "document"
    enrol(client, runtime, ADMIN, "admin")
    post(client, message(f"/kasus {ticket}", chat=ADMIN))
    drain(runtime)
    post(client, press(card_button(bot_api, ADMIN, ticket)["callback_data"], chat=ADMIN))
    drain(runtime)
    [(method, params)] = bot_api.sent_files()
    assert method == "sendDocument" and params["document"] == "BQAD-doc"


# -- signed links ---------------------------------------------------------------------------------
def webchat_officer(runtime, role="admin", unit=None):
    """An officer on the web chat (its own browser session)."""
    officer_client = create_app(runtime=runtime).test_client()
    with transaction(runtime.sessions) as s:
        officer, code = invite(s, runtime.workflow, role, unit, now=wib(2025, 4, 8, 8, 0))
    code = link_webchat(Chat(runtime, channel="telegram", chat_id=str(880_000 + officer.id)), code)  # from a chat app
    officer_client.post("/webchat/api/messages", json={"id": "enrol-0001", "text": f"/petugas {code}"})
    return officer_client, officer.id


def link_on_card(officer_client, ticket):
    officer_client.post("/webchat/api/messages", json={"id": f"case-{ticket}", "text": f"/kasus {ticket}"})
    messages = officer_client.get("/webchat/api/messages?after=0").get_json()["messages"]
    card = [m for m in messages if m["text"].startswith(ticket)][-1]
    [link] = card["links"]
    return link


@pytest.fixture
def stored(client, runtime, bot_api):
    """A Telegram case whose photo the worker has fetched."""
    ticket = telegram_case_with_photo(client, runtime, bot_api)
    assert runtime.outbound.fetcher.run_once() == 1
    return ticket


def path_of(url):
    assert url.startswith("https://aduan.contoh.go.id/files/")
    return url.removeprefix("https://aduan.contoh.go.id")


def test_a_valid_link_serves_the_file_safely(runtime, stored):
    officer_client, _ = webchat_officer(runtime)
    link = link_on_card(officer_client, stored)
    assert link["label"] == "Foto · image/jpeg · 1 KB"
    r = create_app(runtime=runtime).test_client().get(path_of(link["url"]))  # any browser, no cookie
    assert r.status_code == 200 and r.data == b"\xff\xd8the-jpeg"
    assert r.headers["Content-Type"] == "image/jpeg"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("inline; filename=photo-1.jp")
    assert "sandbox" in r.headers["Content-Security-Policy"]
    # the card's button (as the page shows it) hands the file over as a fresh link
    card = [m for m in officer_client.get("/webchat/api/messages?after=0").get_json()["messages"]
            if m["text"].startswith(stored)][-1]
    button = next(b for row in card["buttons"] for b in row if b["label"] == "📎 Lampiran (1)")
    officer_client.post("/webchat/api/messages", json={"id": "press-files", "button": button["payload"]})
    handed = officer_client.get("/webchat/api/messages?after=0").get_json()["messages"][-1]
    assert handed["text"] == f"{stored} · Foto · image/jpeg · 1 KB (1/1)"
    assert officer_client.get(path_of(handed["links"][0]["url"])).data == b"\xff\xd8the-jpeg"


def test_an_expired_link_is_refused(runtime, stored, clock):
    officer_client, _ = webchat_officer(runtime)
    url = path_of(link_on_card(officer_client, stored)["url"])
    clock[0] += timedelta(hours=23, minutes=59)
    assert officer_client.get(url).status_code == 200
    clock[0] += timedelta(minutes=2)
    r = officer_client.get(url)
    assert r.status_code == 403 and "sudah kedaluwarsa" in r.get_data(as_text=True)


def test_a_tampered_link_is_not_found(runtime, stored):
    officer_client, _ = webchat_officer(runtime)
    url = path_of(link_on_card(officer_client, stored)["url"])
    token = url.removeprefix("/files/")
    payload, _, signature = token.rpartition(".")
    forged = "/files/" + payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    assert officer_client.get(forged).status_code == 404
    from itsdangerous import URLSafeSerializer  # the right shape, signed with another key
    other_key = URLSafeSerializer("not-the-key", salt="aduan-attachment-link").dumps([1, 1, 9999999999])
    assert officer_client.get(f"/files/{other_key}").status_code == 404


def test_a_revoked_officers_link_stops_working(runtime, stored):
    officer_client, officer_id = webchat_officer(runtime)
    url = path_of(link_on_card(officer_client, stored)["url"])
    with transaction(runtime.sessions) as s:
        revoke(s, officer_id)
    r = officer_client.get(url)
    assert r.status_code == 403 and "tidak aktif" in r.get_data(as_text=True)


def test_another_units_officer_cannot_open_the_file(runtime, stored):
    officer_client, officer_id = webchat_officer(runtime, "unit_officer", "PU")
    officer_client.post("/webchat/api/messages", json={"id": "case-other", "text": f"/kasus {stored}"})
    texts = [m["text"] for m in officer_client.get("/webchat/api/messages?after=0").get_json()["messages"]]
    assert texts[-1].startswith("Peran atau unit Anda tidak dapat")  # no card, so no link
    with runtime.sessions() as s:
        attachment_id = s.scalar(select(Attachment.id))
    # a link made out to this officer (as one handed out while the case was their unit's)
    url = path_of(runtime.file_links.url(attachment_id, officer_id))
    r = officer_client.get(url)
    assert r.status_code == 403 and "bukan untuk unit Anda" in r.get_data(as_text=True)


def test_a_file_not_fetched_yet_says_so(client, runtime, bot_api):
    ticket = telegram_case_with_photo(client, runtime, bot_api)
    officer_client, _ = webchat_officer(runtime)
    r = officer_client.get(path_of(link_on_card(officer_client, ticket)["url"]))
    assert r.status_code == 503 and r.headers["Retry-After"] == "60"
    assert "belum selesai diambil dari Telegram" in r.get_data(as_text=True)
    with transaction(runtime.sessions) as s:
        attachment = s.scalar(select(Attachment))
        attachment.fetch_error = "file is too big"
        ids = attachment.id, s.scalar(select(Officer.id))
    r = officer_client.get(path_of(runtime.file_links.url(*ids)))
    assert r.status_code == 404 and "tidak dapat diambil dari Telegram" in r.get_data(as_text=True)


def test_an_officer_on_whatsapp_gets_links_on_the_card(make_runtime, tmp_path, clock):
    from tests.fakes.twilio_api import FakeTwilioAPI
    from tests.test_whatsapp import AUTH, PUBLIC_URL, SID, form
    from tests.test_whatsapp import drain as wa_drain
    from tests.test_whatsapp import post as wa_post

    with FakeTwilioAPI(SID) as twilio_api:
        rt = make_runtime(clock=lambda: clock[0], intake={"attachments_dir": str(tmp_path / "files")},
                          whatsapp={"account_sid": SID, "auth_token": AUTH, "from_number": "+14155238886",
                                    "public_url": PUBLIC_URL, "api_base_url": twilio_api.url,
                                    "templates": {"default": "HX" + "1" * 32}})
        wa = create_app(runtime=rt).test_client()
        web = create_app(runtime=rt).test_client()
        for n, body in enumerate(({"text": "/mulai"}, {"button": "agree"}, {"button": "file"}, {"text": "Siti"},
                                  {"button": "skip"}, {"button": "skip"}, {"button": "pengaduan"},
                                  {"text": "Antrian di loket pelayanan sangat panjang."})):
            web.post("/webchat/api/messages", json={"id": f"before-{n:04d}", **body})
        web.post("/webchat/api/files", data={"id": "upload-0001", "file": (io.BytesIO(PNG), "bukti.png")},
                 content_type="multipart/form-data")
        for n, body in enumerate(({"button": "next"}, {"button": "biasa"}, {"button": "submit"})):
            web.post("/webchat/api/messages", json={"id": f"after-{n:04d}", **body})
        with transaction(rt.sessions) as s:
            _, code = invite(s, rt.workflow, "admin", now=wib(2025, 4, 8, 8, 0))
        officer = "+6281311112222"
        wa_post(wa, form(f"/petugas {code}", From=f"whatsapp:{officer}", WaId=officer[1:]))
        wa_post(wa, form("/kasus ADU-2025-000001", From=f"whatsapp:{officer}", WaId=officer[1:]))
        wa_drain(rt, clock)
        texts = [p.get("Body") or json.loads(p["ContentVariables"])["1"] for p in twilio_api.sent()
                 if p["To"] == f"whatsapp:{officer}"]
        card = next(x for x in texts if x.startswith("ADU-2025-000001"))
        line = next(x for x in card.splitlines() if x.startswith("📎 Foto"))
        # the link is under whatsapp.public_url's host when server.public_url is not set
        assert line.startswith("📎 Foto · bukti.png · image/png · 1 KB: https://aduan.contoh.go.id/files/")
        assert rt.outbound.fetcher.run_once() == 1
        r = wa.get(line.split("https://aduan.contoh.go.id")[1])
        assert r.status_code == 200 and r.data == PNG
        assert r.headers["Content-Disposition"] == "inline; filename=bukti.png"
