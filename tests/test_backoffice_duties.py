"""The back office's periodic duties page: the office's open duties with their due time,
and for an officer of the duty's role a "mark done" form that records it as the chat
command does; another role cannot, and the form needs its CSRF token."""
from __future__ import annotations

from sqlalchemy import select

from bot.app import create_app
from bot.scheduler import Scheduler
from storage.db import transaction
from storage.models import ScheduledRun
from storage.models_duties import Duty
from tests.conftest import wib
from tests.test_backoffice import PUBLIC, csrf, officer, sign_in
from tests.test_scheduler import Clock


def _babel(make_runtime):
    clock = Clock(wib(2025, 5, 2, 8, 0))  # April's duty opens on 2 May, due 5 May
    rt = make_runtime(clock=clock, server={"public_url": PUBLIC}, workflow={"preset": "bps-babel"})
    with transaction(rt.sessions) as s:  # the monthly reports to the leadership went already
        s.add_all(ScheduledRun(job="monthly", run_key=f"2025-0{m}", at=clock()) for m in (4, 5, 6))
    assert Scheduler(rt, clock=clock).tick()["duties"] == 1
    clock.at = wib(2025, 5, 6, 9, 0)  # and now it is overdue
    return rt


def _duty(rt):
    with rt.sessions() as s:
        d = s.scalar(select(Duty))
        return d.done_at, d.done_via, d.done_by_id


def test_the_actor_marks_the_duty_done_on_the_web_and_another_role_cannot(make_runtime):
    rt = _babel(make_runtime)
    app = create_app(runtime=rt)
    teknis = sign_in(app, officer(rt, "tim_teknis"))
    page = teknis.get("/kantor/tugas").get_data(as_text=True)
    assert "Membuat laporan bulanan" in page and "April 2025" in page and "terlambat" in page
    assert "Senin, 5 Mei 2025" in page or "5 Mei 2025" in page
    assert "Tandai selesai" not in page and 'href="/kantor/tugas"' in page
    form = {"csrf_token": csrf(page), "duty": "lapor_bulanan", "period": "2025-04"}
    assert teknis.post("/kantor/tugas/selesai", data=form).status_code == 403
    assert _duty(rt)[0] is None

    petugas_chat = officer(rt, "petugas_pengaduan")
    petugas = sign_in(app, petugas_chat)
    page = petugas.get("/kantor/tugas").get_data(as_text=True)
    assert "Tandai selesai" in page
    assert petugas.post("/kantor/tugas/selesai", data={"duty": "lapor_bulanan", "period": "2025-04"}).status_code == 400
    assert _duty(rt)[0] is None
    r = petugas.post("/kantor/tugas/selesai", data={**form, "csrf_token": csrf(page)})
    assert r.status_code == 302 and r.headers["Location"] == "/kantor/tugas"
    done_at, via, by = _duty(rt)
    assert done_at is not None and via == "web" and by == petugas_chat.officer_id
    page = petugas.get("/kantor/tugas").get_data(as_text=True)
    assert "selesai" in page and "Tidak ada tugas berkala yang terbuka." in page
    # a second press: the chat's "already done", nothing recorded again
    petugas.post("/kantor/tugas/selesai", data={**form, "csrf_token": csrf(page)})
    assert "sudah tercatat selesai" in petugas.get("/kantor/tugas").get_data(as_text=True)
    assert _duty(rt) == (done_at, via, by)
