"""The `aduan` command line, on a real database (SQLite, and PostgreSQL when configured)."""
import csv
import io
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.cli import main
from flows.calendar import OfficeCalendar
from flows.case_fields import ActorType
from flows.presets import load_workflow, preset_names
from storage.migrate import head_revision
from storage.db import transaction
from storage.migrate import head_revision
from storage.cases import Actor, CaseService
from storage.models import Officer, Unit
from storage.units import add_unit
from tests.conftest import wib


@pytest.fixture
def config(tmp_path, database_url, engine):
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n[office]\nname = "BPS Uji"\n')
    return str(path)


def aduan(*args, config=None):
    result = CliRunner().invoke(main, (["--config", config] if config else []) + list(args))
    return result


def fails_with(result, message):
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    return True


def test_help_on_every_command():
    def walk(group, path):
        for name, cmd in group.commands.items():
            r = aduan(*path, name, "--help")
            assert r.exit_code == 0 and "Usage:" in r.output, (path, name)
            if hasattr(cmd, "commands"):
                walk(cmd, path + [name])
    assert aduan("--help").exit_code == 0
    walk(main, [])


def test_db_upgrade_on_a_fresh_file(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/new/aduan.db"\n')
    r = aduan("unit", "list", config=str(cfg))
    assert fails_with(r, "is not up to date; run `aduan db upgrade` first")
    r = aduan("db", "upgrade", config=str(cfg))
    head = head_revision()
    assert r.exit_code == 0 and f"is at revision {head}" in r.output
    assert f"database: {head}  latest: {head}" in aduan("db", "current", config=str(cfg)).output
    assert aduan("unit", "list", config=str(cfg)).exit_code == 0


def test_units(config, sessions):
    assert aduan("unit", "add", "KEU", "Bagian Keuangan", config=config).exit_code == 0
    assert fails_with(aduan("unit", "add", "KEU", "Lagi", config=config), "unit 'KEU' already exists")
    assert fails_with(aduan("unit", "add", "k u", "Spasi", config=config), "unit code 'k u'")
    out = aduan("unit", "list", config=config).output
    assert "KEU" in out and "Bagian Keuangan" in out
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Unit)) == 1


def test_unit_codes_ignore_case_and_units_are_renamed_or_removed(config, sessions):
    assert aduan("unit", "add", "KEU", "Bagian Keuangan", config=config).exit_code == 0
    assert fails_with(aduan("unit", "add", "keu", "Lagi", config=config), "unit 'KEU' already exists")
    with pytest.raises(IntegrityError):  # the database holds it too, whoever writes the row
        with transaction(sessions) as s:
            s.add(Unit(code="Keu", name="Lewat pintu belakang"))
    r = aduan("unit", "rename", "keu", "Subbagian Keuangan", config=config)
    assert r.exit_code == 0 and "unit KEU renamed: Subbagian Keuangan" in r.output
    assert fails_with(aduan("unit", "rename", "IPDS", "X", config=config), "no unit 'IPDS' (units: KEU")
    aduan("unit", "add", "PU", "Pekerjaan Umum", config=config)
    aduan("officer", "invite", "--role", "unit_officer", "--unit", "pu", config=config)
    assert fails_with(aduan("unit", "remove", "PU", config=config),
                      "unit PU has 0 case(s) and 1 officer(s) and cannot be removed")
    r = aduan("unit", "remove", "Keu", config=config)
    assert r.exit_code == 0 and "unit KEU removed" in r.output
    with sessions() as s:
        assert s.scalars(select(Unit.code)).all() == ["PU"]


def test_officer_invite_list_revoke(config, sessions):
    aduan("unit", "add", "KEU", "Keuangan", config=config)
    r = aduan("officer", "invite", "--role", "unit_officer", "--unit", "KEU", "--name", "Sari", config=config)
    assert r.exit_code == 0, r.output
    code = r.output.split("enrolment code: ")[1].split()[0]
    assert len(code) == 14 and code.count("-") == 2
    with sessions() as s:
        officer = s.scalar(select(Officer))
        assert officer.enrol_code_hash and code.replace("-", "") not in officer.enrol_code_hash
    assert "invited" in aduan("officer", "list", config=config).output
    assert aduan("officer", "revoke", str(officer.id), config=config).exit_code == 0
    assert "revoked" in aduan("officer", "list", config=config).output
    assert fails_with(aduan("officer", "revoke", str(officer.id), config=config), "already revoked")
    assert fails_with(aduan("officer", "revoke", "999", config=config), "no officer #999")


@pytest.mark.parametrize("args, message", [
    (["--role", "kepala"], "role 'kepala' is not a role of workflow 'sp4n-lapor'"),
    (["--role", "admin", "--unit", "NOPE"], "no unit 'NOPE'"),
])
def test_a_bad_invite_writes_nothing(config, sessions, args, message):
    assert fails_with(aduan("officer", "invite", *args, config=config), message)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Officer)) == 0


@pytest.fixture
def two_cases(sessions):
    service = CaseService(load_workflow("sp4n-lapor"), OfficeCalendar("Asia/Jakarta"))
    with transaction(sessions) as s:
        add_unit(s, "KEU", "Keuangan")
        a = service.open_case(s, kind="pengaduan", text="Antrian lama sekali", channel="telegram",
                              now=wib(2025, 3, 27, 15, 45)).ticket
        b = service.open_case(s, kind="aspirasi", text="Tambah kursi", channel="webchat",
                              privacy="anonim", now=wib(2025, 4, 14, 9, 0)).ticket
        service.fire(s, a, "dispose", Actor(ActorType.OFFICER, "admin", 3), unit_code="KEU",
                     now=wib(2025, 4, 8, 9, 0))
    return a, b


def test_cases_show_prints_details_history_and_deadlines_in_office_time(config, two_cases):
    a, b = two_cases
    out = aduan("cases", "show", a, config=config).output
    assert a in out and "Belum Ditindaklanjuti / Not yet followed up (disposed)" in out
    assert "KEU (Keuangan)" in out and "Antrian lama sekali" in out
    assert "Thu 2025-03-27 15:45 WIB" in out  # opened
    assert "officer#3 (admin)" in out and "dispose" in out
    assert "Thu 2025-04-10 16:00 WIB" in out  # the verification clock's due time
    assert "Tue 2025-04-15 16:00 WIB" in out  # disposed: 5 working days from 8 April
    assert "(anonim: hidden)" in aduan("cases", "show", b, config=config).output
    assert fails_with(aduan("cases", "show", "ADU-2025-424242", config=config), "no case 'ADU-2025-424242'")


def test_cases_list(config, two_cases):
    a, b = two_cases
    out = aduan("cases", "list", config=config).output
    assert a in out and b in out
    out = aduan("cases", "list", "--state", "received", config=config).output
    assert b in out and a not in out
    out = aduan("cases", "list", "--overdue", config=config).output  # it is 2026 now
    assert a in out and b in out and "OVERDUE" in out
    assert fails_with(aduan("cases", "list", "--state", "lost", config=config), "unknown state 'lost'")


def test_cases_export_jsonl_and_csv(config, two_cases, tmp_path):
    a, b = two_cases
    rows = [json.loads(line) for line in aduan("cases", "export", config=config).output.splitlines()]
    assert [r["ticket"] for r in rows] == [a, b]
    assert rows[0]["state"] == "disposed" and rows[0]["stage_due_at"] == "2025-04-15T09:00:00+00:00"
    assert [e["action"] for e in rows[0]["events"]] == ["open", "dispose"]
    assert "text" not in rows[0] and "Antrian" not in json.dumps(rows)  # no complaint text
    out = tmp_path / "cases.csv"
    assert aduan("cases", "export", "--format", "csv", "-o", str(out), config=config).exit_code == 0
    parsed = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["ticket"] for r in parsed] == [a, b] and json.loads(parsed[1]["events"])[0]["action"] == "open"


SEED_TEXTS = {
    "bangkalan": ["Menerima pengaduan melalui SP4N-LAPOR", "5 menit", "1 – 3 Hari", "5 Menit",
                  "3 working days (reminder at 1 working day)",
                  "Jika data pendukung tidak lengkap, laporan tidak dapat diverifikasi",
                  "Menginformasikan kepada pejabat penghubung melalui grup whatsapp", "5 – 10 Hari",
                  "10 Hari", "after 60 working days", "Ombudsman", "Admin Koordinator",
                  "Pranata Humas Ahli Muda", "Pejabat Penghubung"],
    "bps-babel": ["Melakukan verifikasi laporan pengaduan", "Maksimal 3 Hari",
                  "Melakukan verifikasi ketersediaan informasi", "Maksimal 5 Hari", "1 Hari",
                  "Membuat laporan bulanan dan mencatat pada aplikasi SP4N Lapor", "Tim Teknis",
                  "Petugas Pengaduan"],
    "bps-bengkulu": ["1 jam", "10 hari kerja", "maksimal 10 hari kerja", "10 menit", "mon 08:00-15:30",
                     "fri 08:00-16:00", "Resepsionis", "Petugas Layanan", "membuat janji"],
    "bps-kaltim": ["15 menit", "Admin Nasional", "Admin BPS Provinsi", "Pejabat Penghubung di BPS Provinsi",
                   "Unit Kerja terkait di BPS Provinsi", "3 hari", "5 hari", "10 hari", "1 jam",
                   "Asia/Makassar", "dapat diintervensi oleh admin"],
    "pst-sorong": ["Asia/Jayapura", "Pelayanan Perpustakaan", "Pelayanan Konsultasi Statistik",
                   "Pelayanan Penjualan Produk Statistik", "Pelayanan Rekomendasi Kegiatan Statistik",
                   "maksimal 30 (tiga puluh) hari kerja", "maksimal 3 (tiga) hari kerja",
                   "Survei Kepuasan Masyarakat"],
    "sp4n-lapor": ["Belum Terverifikasi", "Menunggu Kelengkapan", "Bukan Wewenang",
                   "Belum Ditindaklanjuti", "Proses", "Selesai", "3 working days", "5 working days",
                   "10 working days", "after 60 working days"],
}


@pytest.mark.parametrize("preset", preset_names())
def test_workflow_show_reproduces_the_seed(preset):
    r = aduan("workflow", "show", preset)
    assert r.exit_code == 0
    flat = " ".join(r.output.split())  # undo the table's wrapping
    for text in SEED_TEXTS[preset]:
        assert " ".join(text.split()) in flat, (preset, text)


def test_workflow_check(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(load_workflow.__globals__["resources"].files("flows").joinpath(
        "presets/bangkalan.toml").read_text(encoding="utf-8"))
    assert "ok (bangkalan" in aduan("workflow", "check", str(good)).output
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('dest = "answered"', 'dest = "anwsered"'))
    assert fails_with(aduan("workflow", "check", str(bad)), "transitions[9].dest: unknown state 'anwsered'")
    assert fails_with(aduan("workflow", "show", "nope"), "no such preset or file")


def test_calendar_show():
    out = aduan("calendar", "show", "2025-04").output
    assert "2025-04-02  Wed  no" in out and "Cuti Bersama Hari Raya Idul Fitri" in out
    assert "2025-04-08  Tue  yes      07:30-16:00" in out and "16 working days" in out
    assert fails_with(aduan("calendar", "show", "April"), "is not a month")
    assert fails_with(aduan("calendar", "show", "2101-01"), "no Indonesian holiday data for 2101")


def test_calendar_due():
    out = aduan("calendar", "due", "2025-03-27 15:45", "3 working days").output
    assert "due     Thu 2025-04-10 16:00 WIB  (2025-04-10 09:00 UTC)" in out
    assert "skipped 2025-03-28 Fri: Cuti Bersama Hari Suci Nyepi" in out
    out = aduan("calendar", "due", "2025-03-27T08:45+00:00", "1 working hour").output
    assert "due     Tue 2025-04-08 08:15 WIB" in out
    assert fails_with(aduan("calendar", "due", "kemarin", "3 working days"), "is not a date and time")
    assert fails_with(aduan("calendar", "due", "2025-03-27 15:45", "3 minggu"), "cannot read SLA")


def test_calendar_follows_the_configured_office(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[workflow]\npreset = "pst-sorong"\n')
    out = aduan("calendar", "due", "2025-03-27 15:45", "3 working days", config=str(cfg)).output
    assert "Thu 2025-04-10 16:00 WIT" in out


def test_a_bad_config_stops_with_one_line(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[office]\ntimezone = "Mars/Olympus"\n')
    assert fails_with(aduan("calendar", "show", "2025-04", config=str(cfg)),
                      "office.timezone: Value error, unknown time zone 'Mars/Olympus'")


@pytest.mark.parametrize("args, message", [
    (["calendar", "due", "9999-12-31 15:45", "3 days"], "beyond the calendar"),
    (["calendar", "due", "2025-01-01 10:00", "999999999 days"], "too long"),
    (["calendar", "show", "0-01"], "no Indonesian holiday data for 0"),
    (["calendar", "show", "99999-01"], "no Indonesian holiday data for 99999"),
])
def test_out_of_range_input_is_one_line(args, message):
    assert fails_with(aduan(*args), message)


def test_an_unreachable_database_is_one_line(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[database]\nurl = "postgresql+psycopg://nobody@127.0.0.1:1/none"\n')
    assert fails_with(aduan("unit", "list", config=str(cfg)), "database error:")
    cfg.write_text('[database]\nurl = "sqlite:////proc/nope/x.db"\n')
    assert fails_with(aduan("unit", "list", config=str(cfg)), "cannot create the database folder")


def test_run_refuses_a_port_out_of_range():
    r = aduan("run", "--port", "99999")
    assert r.exit_code == 2 and "99999 is not in the range" in r.output


def test_a_unit_officer_needs_a_unit(config, sessions):
    for role, label in (("unit_officer", "Unit officer"), ("liaison", "Liaison officer")):
        assert fails_with(aduan("officer", "invite", "--role", role, config=config),
                          f"role '{role}' ({label}) works for a unit in workflow 'sp4n-lapor': give --unit CODE")


def test_export_of_an_empty_database_still_has_the_header(config, tmp_path):
    out = tmp_path / "empty.csv"
    assert aduan("cases", "export", "--format", "csv", "-o", str(out), config=config).exit_code == 0
    assert out.read_text().startswith("ticket,kind,category")
    r = aduan("cases", "export", "-o", str(tmp_path / "no" / "dir.csv"), config=config)
    assert r.exit_code == 2 and "dir.csv" in r.output


def test_calendar_due_in_calendar_days_says_so():
    out = aduan("calendar", "due", "2025-03-27 15:45", "5 hari").output
    assert "due     Tue 2025-04-01 15:45 WIB" in out and "skipped" not in out and "calendar time" in out


def test_run_reports_a_taken_port_in_one_line(tmp_path):
    import socket

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/a.db"\n')
    aduan("db", "upgrade", config=str(cfg))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert fails_with(aduan("run", "--port", str(port), config=str(cfg)), f"cannot serve on 127.0.0.1:{port}")


def test_cases_show_lists_the_attachments(config, two_cases, sessions, tmp_path):
    from storage.cases import add_attachments
    from storage.models import Attachment, Case

    a, _ = two_cases
    stored = tmp_path / "files" / "1.jpg"
    with transaction(sessions) as s:
        case = s.scalar(select(Case).where(Case.ticket == a))
        add_attachments(s, case, [{"kind": "photo", "ref": "AgAD-1", "content_type": "image/jpeg", "size": 2048},
                                  {"kind": "document", "ref": "AgAD-2", "content_type": "application/pdf",
                                   "size": 3 * 1024 * 1024, "filename": "kuitansi.pdf"},
                                  {"kind": "voice", "ref": "AgAD-3", "content_type": "audio/ogg"}],
                        "telegram", wib(2025, 3, 27, 15, 45))
        s.flush()
        first, second, _ = s.scalars(select(Attachment).order_by(Attachment.id)).all()
        first.stored_path = str(stored)
        second.fetch_error = "file of 3145728 bytes is over the limit"
    out = aduan("cases", "show", a, config=config).output
    section = out.split("Attachments:")[1].split("History:")[0]
    rows = [line.split() for line in section.strip().splitlines()[2:]]
    assert rows[0][1:] == ["photo", "image/jpeg", "2", "KB", "telegram", str(stored)]
    assert rows[1][1:6] == ["document", "application/pdf", "3.0", "MB", "telegram"]
    assert "fetch failed: file of 3145728 bytes is over the limit" in section
    assert rows[2][1:] == ["voice", "audio/ogg", "-", "telegram", "not", "fetched", "yet"]
    b_out = aduan("cases", "show", two_cases[1], config=config).output
    assert "Attachments:\n(none)" in b_out
