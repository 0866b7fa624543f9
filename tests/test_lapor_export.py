"""`aduan report lapor`: the month's reports as an SP4N-LAPOR! admin enters them, and the
presets' map from states to LAPOR!'s statuses. SQLite, and one run on PostgreSQL."""
import csv
import io
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli.report_lapor import lapor as lapor_command
from bot.config import Settings
from bot.reports.lapor import COLUMNS, title_of
from bot.reports.monthly import last_full_month
from bot.runtime import Runtime
from flows.case_fields import ActorType
from flows.errors import WorkflowError
from flows.lapor import STATUSES
from flows.presets import load_workflow, preset_names
from flows.workflow import parse_workflow
from storage.cases import CITIZEN, Actor
from storage.db import transaction
from storage.models import Attachment, Citizen
from storage.privacy import purge_batch
from storage.units import add_unit
from tests.conftest import wib

ADMIN, UNIT = Actor(ActorType.OFFICER, "admin", 1), Actor(ActorType.OFFICER, "unit_officer", 2)
NOW = wib(2025, 5, 1, 0, 30)  # the office's May; still 30 April in UTC
ID_HEADER = ["Nomor tiket", "Tanggal masuk", "Tracking ID SP4N-LAPOR!", "Klasifikasi laporan", "Judul laporan",
             "Isi laporan", "Tanggal kejadian", "Lokasi kejadian", "Instansi tujuan", "Kategori",
             "Lampiran (berkas)", "Anonim", "Rahasia", "Nama pelapor", "Telepon pelapor", "Email pelapor",
             "Status SP4N-LAPOR!", "Disposisi ke unit kerja/OPD", "Tanggal tindak lanjut", "Tindak lanjut"]
EN_HEADER = ["Ticket", "Arrived", "SP4N-LAPOR! tracking ID", "Report type", "Report title", "Report",
             "Date of the incident", "Place of the incident", "Agency", "Category", "Attachments (files)",
             "Anonymous", "Confidential", "Reporter's name", "Reporter's phone", "Reporter's email",
             "SP4N-LAPOR! status", "Forwarded to unit", "Follow-up date", "Follow-up"]
EVIL_ID = "=cmd|'/Ccalc'!A0"
# Identities that must not leave the database for an anonim or an anonymised report.
SECRET = {"anonim": ("Siti Rahasia", "+6281299990001", "siti@contoh.id"),
          "purged": ("Joko Terhapus", "+6281299990002", "joko@contoh.id")}


class Ctx:
    """What `aduan` hands a command (bot.cli.Context), around a runtime with its own clock."""

    def __init__(self, runtime):
        self.runtime = runtime

    def database(self):
        return self.runtime


@pytest.fixture
def april(request, database_url):
    if database_url.startswith("postgresql"):  # before the database is set up and emptied
        pytest.skip("plain column reads; test_the_same_rows_on_either_database runs on PostgreSQL")
    return build(request.getfixturevalue("make_runtime"))


@pytest.fixture
def april_anywhere(make_runtime):
    return build(make_runtime)


def build(make_runtime):
    rt = make_runtime(clock=lambda: NOW.astimezone(timezone.utc), office={"name": "BPS Uji"},
                      categories=[{"id": "data", "label_id": "Layanan Data", "label_en": "Data service"}])
    svc = rt.cases
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Bagian Keuangan")
        def person(key):
            name, phone, email = SECRET[key] if key in SECRET else ("Budi Santoso", "+6281200000001", "budi@contoh.id")
            return Citizen(name=name, phone=phone, email=email)
        old = svc.open_case(s, kind="pengaduan", text="Laporan Maret yang dijawab bulan April.", channel="webchat",
                            citizen=person("old"), now=wib(2025, 3, 20, 9, 0))
        a = svc.open_case(s, kind="pengaduan", category="data", channel="telegram", citizen=person("a"),
                          text="=HYPERLINK(\"x\") Tabel inflasi di situs salah. Angka Maret tertukar dengan Februari.",
                          now=wib(2025, 4, 1, 0, 30))  # 31 March in UTC: April in the office
        s.add_all([Attachment(case_id=a.id, channel="telegram", media_type="photo", provider_ref="tg-file-1"),
                   Attachment(case_id=a.id, channel="telegram", media_type="location",
                              provider_ref="-2.1291,106.1107")])
        b = svc.open_case(s, kind="aspirasi", privacy="anonim", channel="whatsapp", citizen=person("anonim"),
                          text="Mohon jam layanan diperpanjang sampai sore.", now=wib(2025, 4, 10, 10, 0))
        c = svc.open_case(s, kind="permintaan_informasi", privacy="rahasia", channel="webchat", citizen=person("c"),
                          text="Minta data kemiskinan per desa 2024.", now=wib(2025, 4, 14, 9, 0))
        joko = person("purged")
        d = svc.open_case(s, kind="pengaduan", channel="webchat", citizen=joko,
                          text="Petugas Joko Terhapus meminta uang tambahan.", now=wib(2025, 4, 15, 9, 0))
        s.add_all([Attachment(case_id=d.id, channel="webchat", media_type="photo", provider_ref="upload:1"),
                   Attachment(case_id=d.id, channel="webchat", media_type="location", provider_ref="-7.1,112.7")])
        svc.open_case(s, kind="aspirasi", text="Sudah bulan Mei di kantor.", channel="webchat",
                      now=wib(2025, 5, 1, 0, 10))  # 30 April in UTC: May in the office
        # Joko's open case keeps his name and contacts in the database after D is anonymised
        svc.open_case(s, kind="aspirasi", text="Laporan Maret tanpa perubahan.", channel="webchat",
                      citizen=joko, now=wib(2025, 3, 21, 9, 0))
        for ticket, trigger, who, extra, at in [
                (old.ticket, "verify", ADMIN, {}, wib(2025, 3, 21, 9, 0)),
                (old.ticket, "dispose", ADMIN, {"unit_code": "KEU"}, wib(2025, 3, 24, 9, 0)),
                (old.ticket, "start", UNIT, {}, wib(2025, 3, 25, 9, 0)),
                (old.ticket, "answer", UNIT, {"note": "Sudah kami perbaiki."}, wib(2025, 4, 2, 10, 0)),
                (old.ticket, "not_resolved", CITIZEN, {"note": "Masih salah."}, wib(2025, 4, 3, 10, 0)),
                (old.ticket, "answer", UNIT, {"note": "Kini sudah benar."}, wib(2025, 4, 7, 11, 0)),
                (a.ticket, "verify", ADMIN, {}, wib(2025, 4, 2, 9, 0)),
                (a.ticket, "dispose", ADMIN, {"unit_code": "KEU"}, wib(2025, 4, 3, 9, 0)),
                (a.ticket, "start", UNIT, {}, wib(2025, 4, 4, 9, 0)),
                (a.ticket, "answer", UNIT, {"note": "-Tabel sudah dibetulkan."}, wib(2025, 4, 8, 14, 5)),
                (d.ticket, "reject", ADMIN, {"note": "Tuduhan kepada Joko Terhapus tanpa bukti."},
                 wib(2025, 4, 16, 9, 0))]:
            svc.fire(s, ticket, trigger, who, now=at, **extra)
        a.lapor_tracking_id = EVIL_ID
        purge_batch(s, cut=wib(2025, 4, 30), now=wib(2025, 4, 30))  # D as if erased: it closed before the cut
    return rt, {"old": old.ticket, "a": a.ticket, "b": b.ticket, "c": c.ticket, "d": d.ticket}


def export(rt, tmp_path, *args) -> tuple[Path, str]:
    fmt = "csv" if "csv" in args else "xlsx"
    out = tmp_path / f"out.{fmt}"
    r = CliRunner().invoke(lapor_command, [*args, "-o", str(out)], obj=Ctx(rt), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out, r.output


def csv_rows(rt, tmp_path, *args) -> list[list[str]]:
    out, _ = export(rt, tmp_path, "--month", "2025-04", "--format", "csv", *args)
    return list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))


def by_ticket(rows) -> dict[str, dict[str, str]]:
    return {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}


def test_the_columns_come_in_the_order_of_lapor_s_form(april, tmp_path):
    rt, _ = april
    assert csv_rows(rt, tmp_path)[0] == ID_HEADER
    assert csv_rows(rt, tmp_path, "--lang", "en")[0] == EN_HEADER
    assert len(COLUMNS) == len(ID_HEADER)


def test_a_report_as_the_admin_enters_it(april, tmp_path):
    rt, t = april
    rows = csv_rows(rt, tmp_path)
    # the month's arrivals by office date (A at 00:30 on 1 April, not the May one), then March's
    # report answered in April; the March report without a change is not there
    assert [r[0] for r in rows[1:]] == [t["a"], t["b"], t["c"], t["d"], t["old"]]
    a = by_ticket(rows)[t["a"]]
    assert a == {
        "Nomor tiket": t["a"], "Tanggal masuk": "2025-04-01 00:30", "Tracking ID SP4N-LAPOR!": "'" + EVIL_ID,
        "Klasifikasi laporan": "Pengaduan", "Judul laporan": "'=HYPERLINK(\"x\") Tabel inflasi di situs salah.",
        "Isi laporan": "'=HYPERLINK(\"x\") Tabel inflasi di situs salah. Angka Maret tertukar dengan Februari.",
        "Tanggal kejadian": "", "Lokasi kejadian": "titik lokasi -2.1291, 106.1107", "Instansi tujuan": "BPS Uji",
        "Kategori": "Layanan Data", "Lampiran (berkas)": "1", "Anonim": "Tidak", "Rahasia": "Tidak",
        "Nama pelapor": "Budi Santoso", "Telepon pelapor": "+6281200000001", "Email pelapor": "budi@contoh.id",
        "Status SP4N-LAPOR!": "Proses", "Disposisi ke unit kerja/OPD": "Bagian Keuangan",
        "Tanggal tindak lanjut": "2025-04-08 14:05", "Tindak lanjut": "'-Tabel sudah dibetulkan."}
    old = by_ticket(rows)[t["old"]]
    # the latest answer, with its date (the citizen said the first did not solve it)
    assert (old["Tanggal masuk"], old["Status SP4N-LAPOR!"], old["Tanggal tindak lanjut"], old["Tindak lanjut"]) == \
        ("2025-03-20 09:00", "Proses", "2025-04-07 11:00", "Kini sudah benar.")
    c = by_ticket(rows)[t["c"]]
    assert (c["Status SP4N-LAPOR!"], c["Tanggal tindak lanjut"], c["Tindak lanjut"]) == ("Belum Terverifikasi", "", "")


def test_anonim_hides_the_reporter_and_rahasia_is_marked(april, tmp_path):
    rt, t = april
    rows = by_ticket(csv_rows(rt, tmp_path))
    b, c = rows[t["b"]], rows[t["c"]]
    assert (b["Anonim"], b["Rahasia"], b["Nama pelapor"], b["Telepon pelapor"], b["Email pelapor"]) == \
        ("Ya", "Tidak", "", "", "")
    assert b["Isi laporan"] == "Mohon jam layanan diperpanjang sampai sore."
    # confidential: hidden from the public in LAPOR!, not from its admin
    assert (c["Anonim"], c["Rahasia"], c["Nama pelapor"]) == ("Tidak", "Ya", "Budi Santoso")
    for fmt in ("csv", "xlsx"):
        out, _ = export(rt, tmp_path, "--month", "2025-04", "--format", fmt)
        data = out.read_bytes() if fmt == "csv" else _xlsx_text(out).encode()
        for secret in SECRET["anonim"]:
            assert secret.encode() not in data, (fmt, secret)


def test_an_anonymised_case_keeps_no_personal_data(april, tmp_path):
    rt, t = april
    with rt.sessions() as s:  # his open March case keeps Joko in the database: none of it may come with D
        assert s.scalar(select(Citizen.name).where(Citizen.phone == SECRET["purged"][1])) == "Joko Terhapus"
    d = by_ticket(csv_rows(rt, tmp_path))[t["d"]]
    assert d["Isi laporan"] == "(isi dihapus: masa simpan berakhir atau dihapus atas permintaan)"
    assert (d["Judul laporan"], d["Nama pelapor"], d["Tindak lanjut"], d["Lampiran (berkas)"]) == ("", "", "", "0")
    # what the reports count stays: kind, status and when it was followed up
    assert (d["Klasifikasi laporan"], d["Status SP4N-LAPOR!"], d["Tanggal tindak lanjut"]) == \
        ("Pengaduan", "Diarsipkan", "2025-04-16 09:00")
    for fmt in ("csv", "xlsx"):
        out, _ = export(rt, tmp_path, "--month", "2025-04", "--format", fmt)
        data = out.read_bytes() if fmt == "csv" else _xlsx_text(out).encode()
        for secret in (*SECRET["purged"], "meminta uang", "tanpa bukti", "-7.1", "112.7"):
            assert secret.encode() not in data, (fmt, secret)


def _xlsx_text(path) -> str:
    from openpyxl import load_workbook

    return "\n".join(str(c.value) for ws in load_workbook(path) for row in ws.iter_rows() for c in row)


def test_xlsx_has_dates_as_dates_and_no_formulas(april, tmp_path):
    from openpyxl import load_workbook

    rt, t = april
    out, said = export(rt, tmp_path, "--month", "2025-04")
    assert "5 reports (4 arrived in 2025-04, 1 earlier with a change), 4 without" in said
    assert out.stat().st_mode & 0o077 == 0  # names and phone numbers: the owner's only
    ws = load_workbook(out)["SP4N-LAPOR!"]
    cells = list(ws.iter_rows())
    head = next(i for i, row in enumerate(cells) if row[0].value == "Nomor tiket")
    assert [c.value for c in cells[head]] == ID_HEADER
    a = {h: c for h, c in zip(ID_HEADER, cells[head + 1])}
    assert a["Nomor tiket"].value == t["a"]
    assert a["Tanggal masuk"].value == datetime(2025, 4, 1, 0, 30) and a["Tanggal masuk"].is_date
    assert a["Tanggal tindak lanjut"].value == datetime(2025, 4, 8, 14, 5)
    assert a["Lampiran (berkas)"].value == 1
    assert a["Tracking ID SP4N-LAPOR!"].value == "'" + EVIL_ID and a["Tracking ID SP4N-LAPOR!"].data_type == "s"
    assert not [c.coordinate for row in cells for c in row if c.data_type == "f"]


def test_the_month_defaults_to_the_last_full_month_in_office_time(april, tmp_path):
    rt, t = april
    assert last_full_month(rt.calendar, wib(2025, 1, 15, 9)) == "2024-12"
    assert last_full_month(rt.calendar, wib(2025, 5, 1, 0, 30)) == "2025-04"
    out, said = export(rt, tmp_path, "--format", "csv")  # the clock: 1 May 00:30 WIB, 30 April in UTC
    assert "arrived in 2025-04" in said
    assert [r[0] for r in csv.reader(io.StringIO(out.read_text(encoding="utf-8")))][1] == t["a"]


def test_a_bad_month_is_refused():
    rt = Runtime(Settings.model_validate({"database": {"url": "sqlite://"}}))  # refused before any read
    r = CliRunner().invoke(lapor_command, ["--month", "2025-13"], obj=Ctx(rt))
    assert r.exit_code == 1 and "'2025-13' is not a month; write YYYY-MM" in r.output


def test_english_labels_keep_lapor_s_own_words(april, tmp_path):
    rt, t = april
    a = by_ticket(csv_rows(rt, tmp_path, "--lang", "en"))[t["a"]]
    assert (a["Report type"], a["Category"], a["Anonymous"], a["SP4N-LAPOR! status"]) == \
        ("Complaint (Pengaduan)", "Data service", "No", "Proses (In process)")


def test_the_same_rows_on_either_database(april_anywhere, tmp_path):
    """The queries (batches, the month's changed cases, joins) on PostgreSQL as on SQLite."""
    rt, t = april_anywhere
    rows = csv_rows(rt, tmp_path)
    assert [r[0] for r in rows[1:]] == [t["a"], t["b"], t["c"], t["d"], t["old"]]
    assert [r[16] for r in rows[1:]] == ["Proses", "Belum Terverifikasi", "Belum Terverifikasi", "Diarsipkan",
                                         "Proses"]
    assert [r[13] for r in rows[1:]] == ["Budi Santoso", "", "Budi Santoso", "", "Budi Santoso"]
    # batches of one: every case read once, in the same order
    from storage.lapor_export import month_records
    from bot.reports.monthly import month_bounds

    start, end = month_bounds(rt.calendar, "2025-04")
    with rt.sessions() as s:
        assert [r.ticket for r in month_records(s, rt.workflow, start, end, batch=1)] == \
            [t["a"], t["b"], t["c"], t["d"], t["old"]]


def test_a_workflow_without_a_status_table_exports_nothing(april, tmp_path, monkeypatch):
    rt, _ = april
    bare = rt.workflow.model_copy(update={"lapor": None})
    monkeypatch.setattr(rt.cases, "workflow", bare)
    monkeypatch.setattr(rt.default, "workflow", bare)
    r = CliRunner().invoke(lapor_command, ["--month", "2025-04", "-o", str(tmp_path / "x.xlsx")], obj=Ctx(rt))
    assert r.exit_code != 0 and "maps no state to an SP4N-LAPOR! status" in str(r.exception)
    assert list(tmp_path.iterdir()) == []  # no half file


def test_the_title_is_the_first_sentence_cut_at_a_word():
    assert title_of("Jalan rusak. Sudah lama.") == "Jalan rusak."
    assert title_of("Baris satu\nbaris dua") == "Baris satu"
    long = "kata " * 40
    assert len(title_of(long)) <= 100 and title_of(long).endswith("kata…")


# -- the presets' map -------------------------------------------------------------------------
@pytest.mark.parametrize("name", preset_names())
def test_every_state_of_every_preset_has_a_lapor_status(name):
    wf = load_workflow(name)
    assert wf.lapor is not None and set(wf.lapor.status) == set(wf.states)
    assert set(wf.lapor.status.values()) <= set(STATUSES)
    for state, d in wf.states.items():  # the ends are LAPOR!'s ends, and only they are
        ends = wf.lapor.status[state] in ("Selesai", "Bukan Wewenang", "Diarsipkan")
        assert ends == d.final, state


SP4N = (Path(__file__).resolve().parent.parent / "flows" / "presets" / "sp4n-lapor.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("old, new, key, problem", [
    ('verified = "Belum Ditindaklanjuti"\n', "", "lapor.status", "state 'verified' has no SP4N-LAPOR! status"),
    ('closed = "Selesai"', 'closed = "Selesai"\nclozed = "Selesai"', "lapor.status.clozed", "unknown state 'clozed'"),
    ('closed = "Selesai"', 'closed = "Tutup"', "lapor.status.closed", "Input should be 'Belum Terverifikasi'"),
])
def test_the_workflow_check_refuses_a_state_without_a_lapor_status(old, new, key, problem):
    assert old in SP4N[SP4N.index("[lapor.status]"):]
    with pytest.raises(WorkflowError) as err:
        parse_workflow(SP4N.replace(old, new, 1), "mine.toml")
    assert (err.value.key, problem in err.value.problem) == (key, True), err.value


def test_readme_shows_each_preset_s_map():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for name in preset_names():
        wf = load_workflow(name)
        row = re.search(rf"^\| `{re.escape(name)}` \| (.+) \|$", readme[readme.index("LAPOR! status per preset"):],
                        re.M).group(1)
        shown = dict(re.findall(r"`(\w+)` ([A-Z][a-z]+(?: [A-Z][a-z]+)?)", row))
        assert shown == dict(wf.lapor.status), name


def test_aduan_report_lapor_is_the_command():
    from bot.cli import main

    assert main.commands["report"].commands["lapor"] is lapor_command
