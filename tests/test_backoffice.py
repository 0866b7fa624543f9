"""The back office on the web: officers sign in through their chat (a one-time link from
/masuk, or the page's code typed there as /masuk CODE), sessions end when they should,
every form needs its CSRF token, and a page shows an officer what the chat shows them:
another unit's case or another office's is a 404."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import create_app
from storage.models import Officer
from storage.models_backoffice import WebSession, WebSignIn
from storage.officers import revoke
from storage.offices import add_office
from storage.units import add_unit
from storage.web_sessions import digest
from tests.chat import Chat, enrol
from tests.conftest import wib

PUBLIC = "https://aduan.contoh.go.id"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND"
       b"\xaeB`\x82")


@pytest.fixture
def clock():
    return [wib(2025, 4, 8, 9, 0)]


@pytest.fixture
def runtime(make_runtime, clock, tmp_path):
    rt = make_runtime(clock=lambda: clock[0], server={"public_url": PUBLIC}, office={"name": "BPS Kota Contoh"},
                      intake={"attachments_dir": str(tmp_path / "files")})
    with rt.transaction() as s:
        add_unit(s, "KEU", "Bagian Keuangan")
        add_unit(s, "PU", "Pekerjaan Umum")
    return rt


@pytest.fixture
def app(runtime):
    return create_app(runtime=runtime)


def officer(runtime, role="admin", unit=None, chat_id=None) -> Chat:
    """An officer enrolled on Telegram, as the admin invites and they enrol."""
    return enrol(runtime, role, unit, channel="telegram", chat_id=chat_id or f"t-{role}-{unit}", now=runtime.clock())


def link_from_chat(chat: Chat, command="/masuk") -> str:
    """The path of the sign-in link the officer's chat received."""
    [reply] = chat.say(command)
    assert reply.startswith(("Tautan masuk", "A sign-in link")), reply
    return re.search(re.escape(PUBLIC) + r"(/\S+)", reply)[1]


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


def sign_in(app, chat: Chat, browser=None, prefix="/kantor"):
    """A browser that opened the chat's link and pressed its button."""
    browser = browser or app.test_client()
    path = link_from_chat(chat)
    assert path.startswith(prefix + "/masuk/")
    page = browser.get(path)
    assert page.status_code == 200 and "Masuk" in page.get_data(as_text=True)
    r = browser.post(path, data={"csrf_token": csrf(page.get_data(as_text=True))})
    assert r.status_code == 302 and r.headers["Location"].endswith(prefix + "/"), r.status_code
    return browser


def case_with_photo(runtime, app, chat_id="w-citizen", photo=PNG,
                    text="Antrian di loket pelayanan sangat panjang sejak pagi.") -> str:
    """A citizen files a complaint on the web chat with a photo; the worker fetches it."""
    web = app.test_client()
    for n, body in enumerate(({"text": "/mulai"}, {"button": "agree"}, {"button": "file"}, {"text": "Siti"},
                              {"button": "skip"}, {"button": "skip"}, {"button": "pengaduan"},
                              {"text": text})):
        assert web.post("/webchat/api/messages", json={"id": f"{chat_id}-b{n:04d}", **body}).status_code == 200
    web.post("/webchat/api/files", data={"id": f"{chat_id}-file", "file": (io.BytesIO(photo), "antrian.png", "image/png")},
             content_type="multipart/form-data")
    for n, body in enumerate(({"button": "next"}, {"button": "biasa"}, {"button": "submit"})):
        web.post("/webchat/api/messages", json={"id": f"{chat_id}-a{n:04d}", **body})
    assert runtime.outbound.fetcher.run_once() == 1
    texts = [m["text"] for m in web.get("/webchat/api/messages?after=0").get_json()["messages"]]
    return next(t for t in texts if "nomor tiket" in t).split("nomor tiket ")[1].split(".")[0]


def dispose(admin: Chat, ticket: str, unit: str) -> None:
    admin.say(f"/verifikasi {ticket}")
    admin.say(f"/disposisi {ticket} {unit}")


# -- signing in -------------------------------------------------------------------------------------
def test_sign_in_by_the_chat_link_once_and_only_a_token_in_the_cookie(runtime, app):
    admin = officer(runtime)
    ticket = Chat(runtime, chat_id="w-citizen").file_complaint()
    browser = app.test_client()
    path = link_from_chat(admin)
    for _ in range(2):  # a link preview fetching it uses nothing up
        assert browser.get(path).status_code == 200
    assert browser.get("/kantor/antrian").status_code == 302  # not yet signed in
    token = csrf(browser.get(path).get_data(as_text=True))
    assert browser.post(path, data={"csrf_token": token}).status_code == 302
    queue = browser.get("/kantor/antrian")
    assert queue.status_code == 200 and ticket in queue.get_data(as_text=True)
    cookie = browser.get_cookie("aduan_kantor", path="/kantor")
    assert cookie.http_only and cookie.same_site == "Lax" and cookie.secure
    with runtime.sessions() as s:
        [row] = s.scalars(select(WebSession)).all()
        assert row.token_hash == digest(cookie.value) and cookie.value not in (row.token_hash, str(row.officer_id))
        assert all(path.rsplit("/", 1)[1] not in (x.secret_hash or "") for x in s.scalars(select(WebSignIn)))
    # the same link again, from this browser or another: refused
    other = app.test_client()
    page = other.get(path)
    assert page.status_code == 404 and "tidak berlaku" in page.get_data(as_text=True)
    assert browser.post(path, data={"csrf_token": token}).status_code == 404
    assert other.get("/kantor/antrian").status_code == 302


def test_a_link_expires_after_its_minutes(runtime, app, clock):
    admin = officer(runtime)
    path = link_from_chat(admin)
    browser = app.test_client()
    token = csrf(browser.get(path).get_data(as_text=True))
    clock[0] += timedelta(minutes=10, seconds=1)
    assert browser.get(path).status_code == 404
    assert browser.post(path, data={"csrf_token": token}).status_code == 404
    assert browser.get("/kantor/antrian").status_code == 302


def test_sign_in_by_the_page_code_typed_in_chat(runtime, app):
    admin = officer(runtime)
    browser = app.test_client()
    page = browser.get("/kantor/masuk").get_data(as_text=True)
    code = re.search(r"/masuk ([A-Z0-9]{4}-[A-Z0-9]{4})", page)[1]
    assert browser.get("/kantor/masuk/status").get_json()["state"] == "waiting"
    thief = app.test_client()  # knowing the code is not being the browser that shows it
    assert thief.get("/kantor/masuk/status").get_json()["state"] == "gone"
    assert admin.say(f"/masuk {code.lower()}") == [
        "Browser yang menampilkan kode itu kini masuk sebagai Anda. Bila bukan Anda yang membukanya, segera beri tahu admin."]
    assert admin.say(f"/masuk {code}")[0].startswith("Kode masuk itu tidak berlaku")  # once only
    done = browser.get("/kantor/masuk/status").get_json()
    assert done == {"state": "done", "next": "/kantor/"}
    assert browser.get("/kantor/antrian").status_code == 200
    assert thief.get("/kantor/masuk/status").get_json()["state"] == "gone"
    assert thief.get("/kantor/antrian").status_code == 302


def test_a_page_code_expires_and_a_stranger_cannot_use_one(runtime, app, clock):
    browser = app.test_client()
    code = re.search(r"/masuk ([A-Z0-9-]{9})", browser.get("/kantor/masuk").get_data(as_text=True))[1]
    citizen = Chat(runtime, chat_id="w-someone")
    assert "masuk sebagai" not in " ".join(citizen.say(f"/masuk {code}"))  # not an officer: nothing happens
    assert browser.get("/kantor/masuk/status").get_json()["state"] == "waiting"
    clock[0] += timedelta(minutes=11)
    admin = officer(runtime)
    assert admin.say(f"/masuk {code}")[0].startswith("Kode masuk itu tidak berlaku")
    assert browser.get("/kantor/masuk/status").get_json()["state"] == "gone"
    fresh = re.search(r"/masuk ([A-Z0-9-]{9})", browser.get("/kantor/masuk").get_data(as_text=True))[1]
    assert fresh != code  # the page gives a new one


def test_without_a_public_url_the_chat_says_to_use_the_page(make_runtime):
    rt = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0))
    admin = officer(rt)
    [reply] = admin.say("/login")
    assert "Buka /kantor/masuk di browser" in reply


def test_sessions_end_when_idle_and_when_too_old(runtime, app, clock):
    admin = officer(runtime)
    browser = sign_in(app, admin)
    clock[0] += timedelta(hours=11)
    assert browser.get("/kantor/antrian").status_code == 200  # and that was activity
    clock[0] += timedelta(hours=11, minutes=59)
    assert browser.get("/kantor/antrian").status_code == 200
    clock[0] += timedelta(hours=12)
    assert browser.get("/kantor/antrian").status_code == 302  # 12 hours idle
    browser, since = sign_in(app, admin), clock[0]
    statuses = []
    while clock[0] - since < timedelta(days=7):  # busy every 11 hours: still out after 7 days
        clock[0] += timedelta(hours=11)
        statuses.append((clock[0] - since < timedelta(days=7), browser.get("/kantor/antrian").status_code))
    assert statuses == [(True, 200)] * 15 + [(False, 302)]


def test_nobody_reaches_a_page_without_a_session(runtime, app):
    ticket = Chat(runtime, chat_id="w-citizen").file_complaint()
    browser = app.test_client()
    for path in ("/kantor/", "/kantor/antrian", "/kantor/antrian/unit", "/kantor/cari?tiket=ADU",
                 f"/kantor/kasus/{ticket}", "/kantor/lampiran/1", "/kantor/dasbor", "/kantor/laporan",
                 "/kantor/laporan/unduh?jenis=bulanan&bulan=2025-04&format=csv", "/kantor/admin/petugas",
                 "/kantor/admin/unit", "/kantor/admin/alur"):
        r = browser.get(path)
        assert r.status_code == 302 and r.headers["Location"] == "/kantor/masuk", path
    browser.set_cookie("aduan_kantor", "made-up-token", path="/kantor")
    assert browser.get("/kantor/antrian").status_code == 302


# -- CSRF -----------------------------------------------------------------------------------------------
def test_every_form_needs_its_csrf_token_and_the_chat_api_does_not(runtime, app):
    admin = officer(runtime)
    browser = sign_in(app, admin)
    assert browser.post("/kantor/keluar").status_code == 400
    assert browser.post("/kantor/keluar", data={"csrf_token": "forged"}).status_code == 400
    assert browser.post("/kantor/admin/unit", data={"code": "HUMAS", "name": "Humas"}).status_code == 400
    assert "HUMAS" not in browser.get("/kantor/admin/unit").get_data(as_text=True)
    path = link_from_chat(admin)
    assert app.test_client().post(path).status_code == 400  # the link's button too
    assert browser.get("/kantor/antrian").status_code == 200  # still signed in
    token = csrf(browser.get("/kantor/antrian").get_data(as_text=True))
    assert browser.post("/kantor/keluar", data={"csrf_token": token}).status_code == 302
    assert browser.get("/kantor/antrian").status_code == 302
    # the web chat's JSON API and the webhooks have their own proofs, not this one
    assert app.test_client().post("/webchat/api/messages", json={"id": "no-csrf-0001", "text": "/mulai"}).status_code == 200


# -- who sees what -----------------------------------------------------------------------------------
def test_a_unit_officer_cannot_open_another_units_case_by_url(runtime, app):
    admin = officer(runtime)
    ticket = case_with_photo(runtime, app)
    dispose(admin, ticket, "KEU")
    keu = sign_in(app, officer(runtime, "unit_officer", "KEU"))
    pu = sign_in(app, officer(runtime, "unit_officer", "PU"))
    page = keu.get(f"/kantor/kasus/{ticket}").get_data(as_text=True)
    attachment = re.search(r'src="/kantor/lampiran/(\d+)"', page)[1]
    assert keu.get(f"/kantor/lampiran/{attachment}").data == PNG
    assert pu.get(f"/kantor/kasus/{ticket}").status_code == 404
    assert pu.get(f"/kantor/kasus/{ticket.lower()}").status_code == 404
    assert pu.get(f"/kantor/lampiran/{attachment}").status_code == 404
    listed = f'href="/kantor/kasus/{ticket}"'
    found = pu.get(f"/kantor/cari?tiket={ticket}&unit=1").get_data(as_text=True)
    assert listed not in found and "0 kasus ditemukan" in found
    assert listed not in pu.get("/kantor/antrian/unit?unit=1").get_data(as_text=True)
    assert listed in keu.get("/kantor/antrian/unit").get_data(as_text=True)
    assert listed in keu.get(f"/kantor/cari?tiket={ticket}").get_data(as_text=True)
    assert listed in sign_in(app, admin).get("/kantor/cari?teks=loket+pelayanan").get_data(as_text=True)


@pytest.fixture
def second_office(runtime):
    with runtime.transaction() as s:
        add_office(s, "kota-b", {"office": {"name": "BPS Kota B"}})
    return runtime.office_by_code("kota-b")


def test_an_officer_of_another_office_gets_nothing_here(runtime, app, second_office):
    ticket = Chat(runtime, chat_id="w-citizen").file_complaint()  # office A's case
    admin_b = officer(second_office, chat_id="t-admin-b")
    b = sign_in(app, admin_b, prefix="/o/kota-b/kantor")
    assert b.get("/o/kota-b/kantor/antrian").status_code == 200
    assert b.get(f"/o/kota-b/kantor/kasus/{ticket}").status_code == 404  # no such ticket in B
    assert b.get("/kantor/antrian").status_code == 302  # the cookie is B's, for B's path
    token = b.get_cookie("aduan_kantor_2", path="/o/kota-b/kantor").value
    copied = app.test_client()
    copied.set_cookie("aduan_kantor", token, path="/kantor")  # B's session offered to A
    assert copied.get("/kantor/antrian").status_code == 302
    assert copied.get(f"/kantor/kasus/{ticket}").status_code == 302
    path = link_from_chat(admin_b)  # B's link opened at A's address
    assert app.test_client().get(path.replace("/o/kota-b", "")).status_code == 404
    assert app.test_client().get("/o/nowhere/kantor/masuk").status_code == 404


def test_a_revoked_officers_session_ends_at_once(runtime, app):
    admin = officer(runtime)
    unit = officer(runtime, "unit_officer", "KEU")
    browser = sign_in(app, unit)
    assert browser.get("/kantor/antrian").status_code == 200
    with runtime.transaction() as s:  # as `aduan officer revoke` does
        revoke(s, unit.officer_id, runtime.clock())
    with runtime.sessions() as s:  # ended with the revocation, before any request
        assert s.scalar(select(WebSession).where(WebSession.officer_id == unit.officer_id)).ended_at is not None
    assert browser.get("/kantor/antrian").status_code == 302
    # an officer made inactive any other way: every request looks again
    keu = officer(runtime, "unit_officer", "KEU", chat_id="t-keu-2")
    browser = sign_in(app, keu)
    with runtime.transaction() as s:
        s.get(Officer, keu.officer_id).active = False
    assert browser.get("/kantor/antrian").status_code == 302
    # and revoked on the admin page
    other = officer(runtime, "unit_officer", "PU")
    theirs, mine = sign_in(app, other), sign_in(app, admin)
    token = csrf(mine.get("/kantor/admin/petugas").get_data(as_text=True))
    assert mine.post(f"/kantor/admin/petugas/{other.officer_id}/cabut", data={"csrf_token": token}).status_code == 302
    assert theirs.get("/kantor/antrian").status_code == 302
    assert other.say("/masuk") == ["Akses petugas Anda telah dicabut. Hubungi admin bila ini keliru."]


def test_a_sign_in_link_never_reaches_a_log_line(runtime, app, caplog):
    from bot.logs import REDACT

    caplog.set_level("DEBUG")
    path = link_from_chat(officer(runtime))
    sign_in_token = path.rsplit("/", 1)[1]
    browser = app.test_client()
    browser.post(path, data={"csrf_token": csrf(browser.get(path).get_data(as_text=True))})
    assert sign_in_token not in caplog.text
    assert sign_in_token not in REDACT.scrub(f"GET {path} HTTP/1.1")  # a request line of a server that logs them


def test_over_https_the_forms_work_as_a_browser_posts_them(runtime, app):
    """Behind https, Flask-WTF also wants the Referer of the same origin: the pages' own
    Referrer-Policy (same-origin) lets the browser send it, so sign-in and every form work."""
    admin = officer(runtime)
    browser = app.test_client()
    path = link_from_chat(admin)
    page = browser.get(path, base_url=PUBLIC)
    policy = page.headers["Referrer-Policy"]
    assert policy in ("same-origin", "strict-origin", "strict-origin-when-cross-origin", "origin")
    # what a browser sends under that policy, posting the page's form to its own origin
    r = browser.post(path, base_url=PUBLIC, headers={"Referer": PUBLIC + path},
                     data={"csrf_token": csrf(page.get_data(as_text=True))})
    assert r.status_code == 302
    queue = browser.get("/kantor/antrian", base_url=PUBLIC)
    assert queue.status_code == 200
    token = csrf(queue.get_data(as_text=True))
    assert browser.post("/kantor/keluar", base_url=PUBLIC, headers={"Referer": PUBLIC + "/kantor/antrian"},
                        data={"csrf_token": token}).status_code == 302
