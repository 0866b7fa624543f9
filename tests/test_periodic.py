"""Digests and the monthly report, driven by the scheduler across a simulated month."""
from collections import Counter
from datetime import timedelta
import base64

from sqlalchemy import select

from bot.scheduler import Scheduler
from storage.db import transaction
from storage.models import Outbox
from storage.officers import invite, redeem
from tests.chat import Chat
from tests.conftest import wib
from tests.test_report_document import pdf_text
from tests.test_scheduler import Clock


def test_a_simulated_month_sends_every_reminder_and_digest_once(make_runtime, tmp_path):
    clock = Clock(wib(2025, 4, 1, 0, 0))
    runtime = make_runtime(clock=clock, digest={"reports_dir": str(tmp_path / "reports")})
    with transaction(runtime.sessions) as s:
        for role, chat in (("admin", "w-admin"), ("leadership", "w-boss")):
            _, code = invite(s, runtime.workflow, role, now=clock())
            redeem(s, code, "webchat", chat, now=clock())
    scheduler = Scheduler(runtime, clock=clock)
    filed = False
    while clock.at < wib(2025, 5, 2, 12, 0):
        if not filed and clock.at >= wib(2025, 4, 8, 9, 0):
            Chat(runtime).file_complaint()  # Tue 8 Apr 09.00; verify by Fri 11 Apr 16.30
            filed = True
        scheduler.tick()
        scheduler.tick()  # a second tick at the same moment changes nothing
        clock.at += timedelta(hours=2)
    with runtime.sessions() as s:
        rows = s.scalars(select(Outbox).where(Outbox.chat_id.in_(["w-admin", "w-boss"])).order_by(Outbox.id)).all()
    kinds = Counter((r.chat_id, r.payload["text"].split(":")[0].split(" ADU")[0]) for r in rows)
    # working days from Wed 9 Apr (the 8th's digest went at 07.30, before the case) to Fri 2 May
    assert kinds[("w-admin", "Ringkasan harian")] == 16
    assert kinds[("w-admin", "Pengingat (50%)")] == 1 and kinds[("w-admin", "Pengingat (80%)")] == 1
    assert kinds[("w-admin", "Pengingat (100%)")] == 1
    assert kinds[("w-admin", "Tenggat terlewati")] == 1 and kinds[("w-boss", "Tenggat terlewati")] == 1
    assert kinds[("w-boss", "Ringkasan mingguan")] == 3  # Mondays 14, 21, 28 April (7 April had nothing)
    assert kinds[("w-boss", "Ringkasan harian")] == 0  # nothing waits on the leadership: nothing sent
    [monthly] = [r for r in rows if r.payload["text"].startswith("Laporan bulanan 2025-04")]
    assert monthly.chat_id == "w-boss" and base64.b64decode(monthly.payload["photo"]).startswith(b"\x89PNG")
    assert (tmp_path / "reports" / "laporan-2025-04.xlsx").exists()
    pdf = tmp_path / "reports" / "laporan-2025-04.pdf"  # the A4 report to sign, in the new layout
    assert "Laporan Bulanan Pengelolaan Pengaduan" in pdf_text(pdf) and "/MediaBox [ 0 0 595.2756 841.8898 ]" in \
        pdf.read_bytes().decode("latin-1")
    assert str(pdf) in monthly.payload["text"]
    assert monthly.created_at.astimezone(runtime.calendar.tz).date().isoformat() == "2025-05-02"
    assert "1 pengaduan" in monthly.payload["text"]
    # the 100% reminder fell at Friday's 16.30 closing; it went at Monday's opening
    late = next(r for r in rows if r.payload["text"].startswith("Pengingat (100%)"))
    assert late.created_at == wib(2025, 4, 14, 8, 0)


def test_digests_carry_no_personal_data(make_runtime):
    clock = Clock(wib(2025, 4, 8, 9, 0))
    runtime = make_runtime(clock=clock)
    with transaction(runtime.sessions) as s:
        _, code = invite(s, runtime.workflow, "admin", now=clock())
        redeem(s, code, "webchat", "w-admin", now=clock())
    Chat(runtime).file_complaint(name="Rahmat Hidayat")
    clock.at = wib(2025, 4, 9, 7, 45)
    Scheduler(runtime, clock=clock).tick()
    with runtime.sessions() as s:
        digest = s.scalars(select(Outbox).where(Outbox.chat_id == "w-admin").order_by(Outbox.id)).all()[-1].payload["text"]
    assert digest.startswith("Ringkasan harian: 1 kasus menunggu Anda") and "ADU-2025-000001" in digest
    for personal in ("Rahmat", "+62812", "siti@contoh", "Lampu jalan"):
        assert personal not in digest
