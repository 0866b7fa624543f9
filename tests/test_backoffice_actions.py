"""Acting on a case from the web back office: the case page's forms go through the same
officer service as the chat's commands, so the citizen hears of it on Telegram (through
the outbox and the fake Bot API), a case that moved on meanwhile is refused and left as
it is, another unit's case is a 404, a form without its CSRF token or from a revoked
officer's browser does nothing. Everyone speaks through their real channel: officers
enrol and ask for their sign-in link on Telegram; the browser is a Flask test client."""
from __future__ import annotations

import html as markup
import re

import pytest
from sqlalchemy import select

from storage.models import Case, CaseEvent
from storage.officers import invite, revoke
from storage.units import add_unit
from tests.conftest import wib
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_journeys import file_complaint
from tests.wire import TOKEN, World, channel_settings

PUBLIC = "https://aduan.contoh.go.id"


@pytest.fixture
def world(make_runtime):
    with FakeBotAPI(TOKEN) as telegram_api:
        rt = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), server={"public_url": PUBLIC},
                          **channel_settings(telegram_api))
        with rt.transaction() as s:
            add_unit(s, "KEU", "Bagian Keuangan")
            add_unit(s, "PU", "Pekerjaan Umum")
        yield World(rt, telegram_api)


def enrolled(world, n, role, unit=None):
    """An officer invited by the admin who enrolled from their own Telegram chat."""
    with world.runtime.transaction() as s:
        found, code = invite(s, world.runtime.workflow, role, unit)
        officer_id = found.id
    person = world.person("telegram", n)
    person.say(f"/petugas {code}")
    assert person.read()
    person.officer_id = officer_id
    return person


def signed_in(world, person):
    """A browser that opened the link `/masuk` gave in the officer's chat."""
    person.say("/masuk")
    [reply] = person.read()
    path = re.search(re.escape(PUBLIC) + r"(/\S+)", reply)[1]
    browser = world.app.test_client()
    token = csrf(browser.get(path).get_data(as_text=True))
    assert browser.post(path, data={"csrf_token": token}).status_code == 302
    return browser


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def case_page(browser, ticket) -> str:
    r = browser.get(f"/kantor/kasus/{ticket}")
    assert r.status_code == 200, r.status_code
    return r.get_data(as_text=True)


def press(browser, ticket, trigger, **fields):
    """Submit the case page's form for `trigger` as the page has it (its version, its token)."""
    page = case_page(browser, ticket)
    form = re.search(r'<form method="post" action="(/kantor/kasus/[^"]+/tindakan)" class="act" data-trigger="'
                     + trigger + r'">(.*?)</form>', page, re.S)
    assert form, f"no {trigger} button on the page"
    data = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form[2]))
    return browser.post(form[1], data={**data, **fields})


def flashed(page: str) -> list[str]:
    return [markup.unescape(m) for m in re.findall(r'<p class="flash \w+" role="status">(.*?)</p>', page, re.S)]


def state_of(world, ticket) -> str:
    with world.runtime.sessions() as s:
        return s.scalar(select(Case.state).where(Case.ticket == ticket))


def test_an_officer_verifies_and_disposes_on_the_web_and_the_citizen_hears_on_telegram(world):
    citizen = world.person("telegram", 1)
    ticket = file_complaint(citizen, world.runtime.workflow)
    admin = enrolled(world, 900, "admin")
    browser = signed_in(world, admin)
    r = press(browser, ticket, "verify")
    assert r.status_code == 302 and r.headers["Location"] == f"/kantor/kasus/{ticket}"
    page = case_page(browser, ticket)
    assert flashed(page) == [f"✓ {ticket}: Verifikasi. Status sekarang: Terverifikasi."]
    assert state_of(world, ticket) == "verified"
    assert flashed(case_page(browser, ticket)) == []  # said once
    heard = citizen.read()
    assert any(ticket in text for text in heard), heard
    r = press(browser, ticket, "dispose", unit="KEU")
    assert r.status_code == 302 and state_of(world, ticket) == "disposed"
    heard = citizen.read()
    assert any(ticket in text and "diteruskan ke unit kerja" in text for text in heard), heard
    # the unit's officer answers from the web too: a text is needed, and asked for
    keu = signed_in(world, enrolled(world, 901, "unit_officer", "KEU"))
    press(keu, ticket, "start")
    press(keu, ticket, "answer", note="   ")
    assert "perlu teks" in flashed(case_page(keu, ticket))[0] and state_of(world, ticket) == "in_progress"
    press(keu, ticket, "answer", note="Antrian kini memakai nomor.")
    assert state_of(world, ticket) == "answered"
    assert any("Antrian kini memakai nomor." in text for text in citizen.read())


def test_notes_escalation_and_the_lapor_id_from_the_case_page(world):
    ticket = file_complaint(world.person("telegram", 2), world.runtime.workflow)
    browser = signed_in(world, enrolled(world, 902, "admin"))
    token = csrf(case_page(browser, ticket))
    base = f"/kantor/kasus/{ticket}"
    browser.post(f"{base}/catatan", data={"csrf_token": token, "note": "Pelapor menelepon juga."})
    browser.post(f"{base}/eskalasi", data={"csrf_token": token, "reason": "Keluhan berulang."})
    browser.post(f"{base}/lapor", data={"csrf_token": token, "lapor_id": "LPR-123"})
    browser.post(f"{base}/lapor", data={"csrf_token": token, "lapor_id": "ada spasi"})
    page = case_page(browser, ticket)
    assert flashed(page) == [f"Catatan internal disimpan pada {ticket}.", f"{ticket} dieskalasi ke pimpinan.",
                             f"Nomor SP4N-LAPOR! LPR-123 dicatat pada {ticket}.",
                             "Tidak dapat diproses: ID SP4N-LAPOR! paling banyak 40 karakter, tanpa spasi"]
    assert "Pelapor menelepon juga." in page and 'value="LPR-123"' in page
    with world.runtime.sessions() as s:
        assert s.scalar(select(Case.lapor_tracking_id).where(Case.ticket == ticket)) == "LPR-123"


def test_a_stale_version_is_refused_and_changes_nothing(world):
    ticket = file_complaint(world.person("telegram", 3), world.runtime.workflow)
    admin = enrolled(world, 903, "admin")
    browser = signed_in(world, admin)
    page = case_page(browser, ticket)
    old = re.search(r'name="version" value="(\d+)"', page)[1]
    admin.say(f"/verifikasi {ticket}")  # meanwhile, from chat
    assert state_of(world, ticket) == "verified"
    with world.runtime.sessions() as s:
        events = s.scalar(select(CaseEvent.id).order_by(CaseEvent.id.desc()).limit(1))
    r = browser.post(f"/kantor/kasus/{ticket}/tindakan",
                     data={"csrf_token": csrf(page), "trigger": "reject", "version": old, "note": "Bukan wewenang."})
    assert r.status_code == 302
    [said] = flashed(case_page(browser, ticket))
    assert said.startswith(f"{ticket} sekarang berstatus Terverifikasi (tindakan terakhir oleh ") and \
        "pilihan itu tidak berlaku lagi" in said
    assert state_of(world, ticket) == "verified"
    with world.runtime.sessions() as s:
        assert s.scalar(select(CaseEvent.id).order_by(CaseEvent.id.desc()).limit(1)) == events
    # in English too
    token = csrf(case_page(browser, ticket))
    browser.post("/kantor/bahasa", data={"csrf_token": token, "lang": "en", "next": f"/kantor/kasus/{ticket}"})
    browser.post(f"/kantor/kasus/{ticket}/tindakan",
                 data={"csrf_token": token, "trigger": "reject", "version": old, "note": "Not ours."})
    assert "that choice no longer applies" in flashed(case_page(browser, ticket))[0]


def test_a_unit_officer_cannot_act_on_another_units_case(world):
    ticket = file_complaint(world.person("telegram", 4), world.runtime.workflow)
    admin = enrolled(world, 904, "admin")
    admin.say(f"/disposisi {ticket} KEU")
    assert state_of(world, ticket) == "disposed"
    pu = signed_in(world, enrolled(world, 905, "unit_officer", "PU"))
    token = csrf(pu.get("/kantor/antrian").get_data(as_text=True))
    with world.runtime.sessions() as s:
        version = s.scalar(select(Case.version).where(Case.ticket == ticket))
    for path, data in (("tindakan", {"trigger": "start", "version": version}), ("catatan", {"note": "x"}),
                       ("eskalasi", {"reason": "x"}), ("lapor", {"lapor_id": "X1"})):
        r = pu.post(f"/kantor/kasus/{ticket}/{path}", data={"csrf_token": token, **data})
        assert r.status_code == 404, path
    assert state_of(world, ticket) == "disposed"
    # and a unit officer may not do the admin's work on their own unit's case
    keu = signed_in(world, enrolled(world, 906, "unit_officer", "KEU"))
    assert keu.post(f"/kantor/kasus/{ticket}/lapor", data={"csrf_token": token, "lapor_id": "X1"}).status_code == 400
    token = csrf(case_page(keu, ticket))  # another browser's token is no token here
    keu.post(f"/kantor/kasus/{ticket}/lapor", data={"csrf_token": token, "lapor_id": "X1"})
    assert "peran atau unit Anda tidak dapat" in flashed(case_page(keu, ticket))[0]
    keu.post(f"/kantor/kasus/{ticket}/tindakan", data={"csrf_token": token, "trigger": "close", "version": version})
    assert "peran atau unit Anda tidak dapat" in flashed(case_page(keu, ticket))[0]
    assert state_of(world, ticket) == "disposed"


def test_without_the_csrf_token_or_once_revoked_nothing_is_done(world):
    ticket = file_complaint(world.person("telegram", 5), world.runtime.workflow)
    admin = enrolled(world, 907, "admin")
    browser = signed_in(world, admin)
    page = case_page(browser, ticket)
    fields = {"trigger": "verify", "version": re.search(r'name="version" value="(\d+)"', page)[1]}
    assert browser.post(f"/kantor/kasus/{ticket}/tindakan", data=fields).status_code == 400
    assert browser.post(f"/kantor/kasus/{ticket}/tindakan", data={**fields, "csrf_token": "forged"}).status_code == 400
    assert state_of(world, ticket) == "received"
    with world.runtime.transaction() as s:
        revoke(s, admin.officer_id, world.runtime.clock())
    r = browser.post(f"/kantor/kasus/{ticket}/tindakan", data={**fields, "csrf_token": csrf(page)})
    assert r.status_code == 302 and r.headers["Location"] == "/kantor/masuk"
    assert state_of(world, ticket) == "received"
