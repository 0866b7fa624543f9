"""Recording a walk-in complaint from the web back office ("Catat pengaduan"): the same
officer service as the chat's /catat, so the case opens with its source and the other
coordinators hear of it on Telegram; a too-short text is refused with the intake's words
and the values kept; a form without its CSRF token, or a browser without a session, does
nothing."""
from __future__ import annotations

import html as markup

from sqlalchemy import func, select

from storage.models import Case
from tests.test_backoffice_actions import csrf, enrolled, flashed, signed_in, world  # noqa: F401

TEXT = "Mohon disediakan kursi roda di loket pelayanan."


def form(browser, **fields) -> dict:
    page = browser.get("/kantor/catat")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'href="/kantor/catat"' in body  # the nav link
    category = {}
    if 'name="category"' in body:
        category = {"category": body.split('name="category"')[1].split('<option value="')[2].split('"')[0]}
    return {"csrf_token": csrf(body), "source": "front_desk", "kind": "pengaduan", "privacy": "biasa",
            "text": TEXT, **category, **fields}


def cases(world) -> int:
    with world.runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(Case))


def test_an_admin_records_a_front_desk_complaint_and_the_coordinators_hear(world):  # noqa: F811
    other = enrolled(world, 801, "admin")
    admin = enrolled(world, 800, "admin")
    other.read()
    browser = signed_in(world, admin)
    r = browser.post("/kantor/catat", data=form(browser, name="Budi", phone="0812 1111 2222"))
    assert r.status_code == 302, r.get_data(as_text=True)
    with world.runtime.sessions() as s:
        case = s.scalar(select(Case))
        assert (case.channel, case.text, case.kind) == ("front_desk", TEXT, "pengaduan")
        assert case.citizen.name == "Budi" and case.events[0].actor_type == "officer"
        ticket = case.ticket
    assert r.headers["Location"] == f"/kantor/kasus/{ticket}"
    page = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert flashed(page) == [f"Pengaduan dicatat dengan nomor {ticket}."]
    heard = other.read()
    assert any(ticket in text and "Datang langsung" in text for text in heard), heard
    assert not any(ticket in text for text in admin.read())  # the recorder is not told of their own


def test_a_too_short_text_is_refused_with_the_values_kept(world):  # noqa: F811
    browser = signed_in(world, enrolled(world, 802, "admin"))
    r = browser.post("/kantor/catat", data=form(browser, text="pendek", name="Siti"))
    body = markup.unescape(r.get_data(as_text=True))
    assert r.status_code == 400
    assert "Uraian terlalu pendek (6 karakter). Mohon tulis minimal 10 karakter" in body
    assert 'value="Siti"' in body and ">pendek</textarea>" in body
    assert cases(world) == 0
    r = browser.post("/kantor/catat", data=form(browser, email="bukan-email"))
    assert r.status_code == 400 and "bukan-email" in markup.unescape(r.get_data(as_text=True))
    assert cases(world) == 0


def test_without_csrf_or_a_session_nothing_is_recorded(world):  # noqa: F811
    browser = signed_in(world, enrolled(world, 803, "unit_officer", "KEU"))
    data = form(browser)  # a unit officer may record too, as /catat in chat
    data.pop("csrf_token")
    assert browser.post("/kantor/catat", data=data).status_code == 400
    stranger = world.app.test_client()
    r = stranger.post("/kantor/catat", data=data)
    assert r.status_code in (302, 400, 403, 404)
    assert stranger.get("/kantor/catat").status_code in (302, 403, 404)
    assert cases(world) == 0
