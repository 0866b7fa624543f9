"""The web chat's cookie and sessions: flags, lifetime, the client address and https
behind a proxy, rotation that carries the conversation over, "end session", and
officers who must link the web chat from a chat app before they see case data."""
from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select, update

from bot.app import create_app
from storage.db import transaction
from storage.models import Case, ChatSession, CitizenIdentity, Officer, OfficerIdentity, Outbox
from storage.officers import invite
from tests.chat import Chat
from tests.conftest import wib
from tests.test_webchat_limits import file_one

NOW = wib(2025, 4, 8, 9, 0)
_ids = itertools.count(1)


@pytest.fixture
def clock():
    return [NOW]


@pytest.fixture
def runtime(make_runtime, clock):
    return make_runtime(clock=lambda: clock[0])


def post(client, headers=None, **body):
    return client.post("/webchat/api/messages", json={"id": f"sess-{next(_ids):06d}", **body}, headers=headers or {})


def texts(client):
    return [m["text"] for m in client.get("/webchat/api/messages?after=0").get_json()["messages"]]


def cookie(response) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    return header


def chat_of(client) -> str:
    with client.session_transaction() as sess:
        return "w-" + sess["visitor"]


def copy_of(app, client):
    """Another browser holding a copy of this one's cookie (stolen, or planted before)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def test_the_cookie_is_httponly_lax_and_lives_a_week(runtime):
    header = cookie(post(create_app(runtime=runtime).test_client(), text="/mulai"))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", header)[1])
    assert timedelta(days=6, hours=23) < expires - datetime.now(timezone.utc) <= timedelta(days=7)


def test_the_cookie_is_secure_when_people_reach_aduan_over_https(make_runtime):
    rt = make_runtime(clock=lambda: NOW, server={"public_url": "https://aduan.contoh.go.id"})
    assert "Secure" in cookie(post(create_app(runtime=rt).test_client(), text="/mulai"))


@pytest.mark.parametrize("proxies, secure", [(1, True), (0, False)])
def test_behind_a_trusted_proxy_https_makes_it_secure(make_runtime, proxies, secure):
    rt = make_runtime(clock=lambda: NOW, server={"proxies": proxies})
    response = post(create_app(runtime=rt).test_client(), headers={"X-Forwarded-Proto": "https"}, text="/mulai")
    assert ("Secure" in cookie(response)) is secure  # without a proxy, anyone could send the header


@pytest.mark.parametrize("proxies, filed", [(1, 2), (0, 1)])
def test_the_client_address_comes_from_the_trusted_proxy_only(make_runtime, proxies, filed):
    rt = make_runtime(clock=lambda: NOW, server={"proxies": proxies}, webchat={"complaints_per_ip_hour": 1})
    app = create_app(runtime=rt)
    for address in ("203.0.113.7", "198.51.100.9"):
        client = app.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = address
        file_one(client, first=True)
    with rt.sessions() as s:
        assert len(s.scalars(select(Case)).all()) == filed


def test_consent_rotates_the_cookie_and_the_conversation_carries_on(runtime, clock):
    app = create_app(runtime=runtime)
    client = app.test_client()
    post(client, text="/mulai")
    chat, planted = chat_of(client), client.get_cookie("session").value
    thief = copy_of(app, client)
    post(client, button="agree")
    assert client.get_cookie("session").value != planted  # a new nonce
    assert chat_of(client) == chat  # the same conversation
    clock[0] = NOW + timedelta(seconds=11)  # past the grace for requests in flight
    stolen = thief.get("/webchat/api/messages?after=0").get_json()
    assert stolen == {"messages": [], "fresh": True}
    post(client, button="file")
    assert texts(client)[-1].startswith("Siapa nama Anda?") or "nama" in texts(client)[-1]


def test_a_request_in_flight_during_the_rotation_still_counts(runtime, clock):
    app = create_app(runtime=runtime)
    client = app.test_client()
    post(client, text="/mulai")
    in_flight = copy_of(app, client)
    post(client, button="agree")
    clock[0] = NOW + timedelta(seconds=3)
    assert in_flight.get("/webchat/api/messages?after=0").get_json()["fresh"] is False


def test_end_session_forgets_the_visitor_for_good(runtime):
    app = create_app(runtime=runtime)
    client = app.test_client()
    post(client, text="/mulai")
    post(client, button="agree")
    chat, copy = chat_of(client), copy_of(app, client)
    texts(client)  # what the page shows, fetched
    with transaction(runtime.sessions) as s:  # something still waiting for the page
        s.add(Outbox(channel="webchat", chat_id=chat, payload={"text": "x"}, status="pending"))
    assert client.post("/webchat/api/session/end").status_code == 200
    for browser in (client, copy):
        assert browser.get("/webchat/api/messages?after=0").get_json() == {"messages": [], "fresh": True}
        post(browser, text="/mulai")  # the old id is not taken up again: a new visitor
        assert chat_of(browser) != chat
    with runtime.sessions() as s:
        identity = s.scalar(select(CitizenIdentity).where(CitizenIdentity.external_id == chat))
        assert identity.blocked_at is not None
        assert {r.status for r in s.scalars(select(Outbox).where(Outbox.chat_id == chat))} == {"sent", "failed"}


def test_polls_without_a_session_write_nothing(runtime):
    client = create_app(runtime=runtime).test_client()
    for _ in range(5):
        assert client.get("/webchat/api/messages?after=0").get_json() == {"messages": [], "fresh": True}
    with runtime.sessions() as s:
        assert s.scalars(select(ChatSession)).all() == []


def test_a_cookie_from_before_sessions_is_adopted_once(runtime):
    app = create_app(runtime=runtime)
    Chat(runtime, chat_id="w-" + "c" * 32).say("/mulai")  # a visitor from before the upgrade
    old = app.test_client()
    with old.session_transaction() as sess:
        sess["visitor"] = "c" * 32
    twin = copy_of(app, old)
    assert old.get("/webchat/api/messages?after=0").get_json()["messages"]  # the conversation is there
    assert twin.get("/webchat/api/messages?after=0").get_json() == {"messages": [], "fresh": True}


# -- officers -------------------------------------------------------------------------------------
def invited(runtime, role="admin"):
    with transaction(runtime.sessions) as s:
        officer, code = invite(s, runtime.workflow, role, now=NOW)
    return officer.id, code


def link_code(app_chat) -> str:
    [answer] = app_chat.say("/webchat")
    return re.search(r"/petugas (\S+)", answer)[1]


def test_an_officer_cannot_enrol_on_the_web_chat_alone(runtime):
    _, code = invited(runtime)
    client = create_app(runtime=runtime).test_client()
    post(client, text=f"/petugas {code}")
    assert texts(client)[-1].startswith("Petugas tidak dapat mendaftar hanya lewat web chat")
    with runtime.sessions() as s:
        assert s.scalars(select(OfficerIdentity)).all() == []
    telegram = Chat(runtime, channel="telegram", chat_id="5001")
    assert telegram.say(f"/petugas {code}")[0].startswith("Anda terdaftar")  # the code still works there


def test_an_officer_links_the_web_chat_with_a_code_from_telegram(runtime):
    _, code = invited(runtime)
    telegram = Chat(runtime, channel="telegram", chat_id="5001")
    telegram.say(f"/petugas {code}")
    client = create_app(runtime=runtime).test_client()
    post(client, text="/mulai")
    before = client.get_cookie("session").value
    post(client, text=f"/petugas {link_code(telegram)}")
    assert texts(client)[-2] == "Anda terdaftar sebagai petugas: Admin Instansi."
    assert client.get_cookie("session").value != before  # officer rights: a new nonce
    post(client, text="/antrian")
    assert not texts(client)[-1].startswith("Web chat ini tertaut")
    post(client, text="/webchat")  # the code comes from a chat app, never from here
    assert texts(client)[-1].startswith("Kirim /webchat di obrolan Telegram atau WhatsApp")
    chat = chat_of(client)
    client.post("/webchat/api/session/end")
    with runtime.sessions() as s:  # the link ends with the session
        assert s.scalar(select(OfficerIdentity).where(OfficerIdentity.external_id == chat)) is None


def test_an_old_web_chat_link_sees_no_case_data_until_confirmed(runtime):
    officer_id, code = invited(runtime)
    telegram = Chat(runtime, channel="telegram", chat_id="5001")
    telegram.say(f"/petugas {code}")
    client = create_app(runtime=runtime).test_client()
    post(client, text="/mulai")
    chat = chat_of(client)
    with transaction(runtime.sessions) as s:  # enrolled there before links were confirmed (migration 0013)
        s.add(OfficerIdentity(officer_id=officer_id, channel="webchat", external_id=chat))
        s.flush()
        s.execute(update(OfficerIdentity).where(OfficerIdentity.external_id == chat).values(confirmed_at=None))
    citizen = Chat(runtime, chat_id="w-citizen")
    ticket = citizen.file_complaint()
    post(client, text=f"/kasus {ticket}")
    said = texts(client)
    assert said[-1].startswith("Web chat ini tertaut ke akun petugas Anda") and not any(ticket in x for x in said)
    post(client, text=f"/petugas {link_code(telegram)}")
    post(client, text=f"/kasus {ticket}")
    assert texts(client)[-1].startswith(ticket) or any(x.startswith(ticket) for x in texts(client)[-3:])
    with runtime.sessions() as s:
        assert s.scalar(select(OfficerIdentity.confirmed_at).where(OfficerIdentity.external_id == chat))
        assert s.get(Officer, officer_id).enrol_code_hash is None  # the link code worked once
