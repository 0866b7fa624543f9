"""The monthly and evaluation reports against cases counted by hand (April 2025)."""
from datetime import date

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import Settings
from bot.reports.monthly import month_bounds
from bot.runtime import Runtime
from flows.case_fields import ActorType
from storage.cases import Actor
from storage.db import transaction
from storage.reporting import figures
from storage.units import add_unit
from tests.conftest import local, wib
from tests.test_report_document import pdf_text

ADMIN, UNIT = Actor(ActorType.OFFICER, "admin", 1), Actor(ActorType.OFFICER, "unit_officer", 2)


@pytest.fixture
def april(database_url, engine, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{database_url}"\n[office]\nname = "BPS Uji"\n')
    rt = Runtime(Settings.model_validate({"database": {"url": database_url}, "office": {"name": "BPS Uji"}}))
    svc = rt.cases
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Keuangan")
        a = svc.open_case(s, kind="pengaduan", text="Kasus A lengkap", channel="webchat", now=wib(2025, 4, 8, 9, 0))
        b = svc.open_case(s, kind="pengaduan", text="Kasus B ditolak", channel="webchat", now=wib(2025, 4, 9, 10, 0))
        c = svc.open_case(s, kind="aspirasi", text="Kasus C terlambat", channel="telegram", now=wib(2025, 4, 14, 9, 0))
        d = svc.open_case(s, kind="permintaan_informasi", text="Kasus D baru", channel="whatsapp",
                          now=wib(2025, 4, 29, 9, 0))
        svc.open_case(s, kind="aspirasi", text="Kasus Mei", channel="webchat", now=wib(2025, 5, 2, 9, 0))
        svc.fire(s, a.ticket, "verify", ADMIN, now=wib(2025, 4, 9, 9, 0))
        svc.fire(s, a.ticket, "dispose", ADMIN, unit_code="KEU", now=wib(2025, 4, 10, 9, 0))
        svc.fire(s, a.ticket, "start", UNIT, now=wib(2025, 4, 11, 9, 0))
        svc.fire(s, a.ticket, "answer", UNIT, note="Jawaban", now=wib(2025, 4, 15, 10, 0))
        svc.fire(s, b.ticket, "reject", ADMIN, note="Bukan pengaduan", now=wib(2025, 4, 10, 9, 0))
        c.lapor_tracking_id = "LAP-C-1"
    yield rt, str(cfg), (a.ticket, b.ticket, c.ticket, d.ticket)
    rt.close()


def test_the_figures_match_a_count_by_hand(april):
    rt, _, _ = april
    start, end = month_bounds(rt.calendar, "2025-04")
    with rt.sessions() as s:
        f = figures(s, rt.workflow, rt.calendar, start, end)
    assert f.total == 4
    assert f.by_kind == {"pengaduan": 2, "aspirasi": 1, "permintaan_informasi": 1}
    assert f.by_channel == {"webchat": 2, "telegram": 1, "whatsapp": 1}
    assert f.by_state == {"answered": 1, "rejected": 1, "received": 2}
    # followed up: A (answered 15 Apr: 5 working days after 8 Apr); B's rejection is counted
    # apart, out of the denominator; C and D are still open
    assert f.followed_up == 1 and f.follow_up_rate == pytest.approx(1 / 3) and f.avg_follow_up_days == 5.0
    assert (f.follow_up.total.rejected, f.follow_up.total.open) == (1, 2)
    # clocks that stopped in April were all on time; past due at the month's end: C's
    # verification (Thu 17 Apr). A's wait for the citizen (answered) is not the office's clock.
    assert f.sla == {"disposed": (1, 0, 0), "in_progress": (1, 0, 0), "received": (1, 0, 1), "verified": (1, 0, 0)}
    assert f.escalations == 0 and f.ratings == 0
    assert sum(sum(c.values()) for c in f.weekly.values()) == 4


@pytest.mark.parametrize("zone", ["Asia/Jakarta", "Asia/Jayapura"])
def test_follow_up_days_and_weeks_go_by_the_office_day(database_url, engine, zone):
    """The SQL counts by the office's local date and closing time, not by the UTC date: every
    case below opens or is answered before 07:00 local (the previous day in UTC) or after closing."""
    at = local(zone)
    rt = Runtime(Settings.model_validate({"database": {"url": database_url},
                                          "office": {"name": "BPS Uji", "timezone": zone}}))
    cases = [  # opened, answered
        # Mon 7 Apr is cuti bersama, so the clock starts Tue 8: Wed 9 is 1 working day
        (at(2025, 4, 7, 6, 30), at(2025, 4, 9, 10, 0)),
        # before closing on Wed 16: Thu 17, (Good Friday 18, weekend), Mon 21, Tue 22: 3
        (at(2025, 4, 16, 15, 30), at(2025, 4, 22, 6, 0)),
        # after closing on Wed 16 the clock starts Thu 17: Mon 21, Tue 22: 2
        (at(2025, 4, 16, 16, 15), at(2025, 4, 22, 6, 0)),
        (at(2025, 4, 28, 5, 0), None),  # Monday locally, Sunday in UTC
        (at(2025, 4, 30, 23, 30), None),  # the month's last local day
        (at(2025, 5, 1, 0, 30), None),  # April in UTC, May in the office
    ]
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Keuangan")
        for opened, answered in cases:
            case = rt.cases.open_case(s, kind="pengaduan", text="Kasus di tepi hari", channel="webchat", now=opened)
            if answered:
                for trigger in ("verify", "dispose", "start", "answer"):
                    rt.cases.fire(s, case.ticket, trigger, UNIT if trigger in ("start", "answer") else ADMIN,
                                  note="Jawaban" if trigger == "answer" else None,
                                  unit_code="KEU" if trigger == "dispose" else None, now=answered)
    start, end = month_bounds(rt.calendar, "2025-04")
    with rt.sessions() as s:
        f = figures(s, rt.workflow, rt.calendar, start, end)
    rt.close()
    assert f.total == 5 and f.followed_up == 3 and f.avg_follow_up_days == (1 + 3 + 2) / 3
    # the open ones, up to the end of Wed 30 April: Mon 28 -> Tue 29, Wed 30: 2; Wed 30: 0
    assert (f.follow_up.total.open, f.follow_up.total.open_days) == (2, 2)
    assert f.weekly == {date(2025, 4, 7): {"answered": 1}, date(2025, 4, 14): {"answered": 2},
                        date(2025, 4, 28): {"received": 2}}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_evaluation_report_fills_what_the_data_says(april, tmp_path):
    rt, cfg, _ = april
    out = tmp_path / "eval.pdf"
    r = CliRunner().invoke(main, ["--config", cfg, "report", "evaluation", "--year", "2025", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = " ".join(pdf_text(out).split())
    for heading in ("a. Tujuan", "b. Sasaran", "c. Ruang lingkup", "d. Waktu", "e. Pelaksana", "f. Periode",
                    "g. Hasil evaluasi", "h. Saran perbaikan"):
        assert heading in text
    assert "1 Januari 2025 s.d. 31 Desember 2025" in text and "BPS Uji" in text
    assert text.count("(diisi oleh penanggung jawab)") >= 6
    # the monthly report's figures and definitions, for the year: 5 cases, 1 answered of 4 counted
    assert "Persentase tindak lanjut 25,0 %" in text and "Definisi. Sudah ditindaklanjuti" in text
    book = tmp_path / "eval.xlsx"
    assert CliRunner().invoke(main, ["--config", cfg, "report", "evaluation", "--year", "2025", "--format", "xlsx",
                                     "-o", str(book)]).exit_code == 0
    from openpyxl import load_workbook

    cells = [c.value for ws in load_workbook(book) for row in ws.iter_rows() for c in row]
    assert "a. Tujuan" in cells and 0.25 in cells
