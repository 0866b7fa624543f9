"""The monthly report an office head signs, read as its readers read it: the PDF's text
(pdftotext), the xlsx's cells and the csv's rows of `aduan report monthly`. One office and
month (April 2025, sp4n-lapor, WIB) on SQLite, each file made once for the module."""
import csv
import re
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bot.cli import main
from bot.config import load_settings
from bot.runtime import Runtime
from flows.case_fields import ActorType
from storage.cases import CITIZEN, Actor
from storage.db import transaction
from storage.migrate import upgrade
from storage.models import Rating
from storage.units import add_unit
from tests.conftest import wib
from tests.test_report_document import pdf_text

ADMIN, UNIT = Actor(ActorType.OFFICER, "admin", 1), Actor(ActorType.OFFICER, "unit_officer", 2)
CONFIG = """[database]
url = "{url}"
[office]
name = "Dinas Kominfo Kota Uji"
city = "Kota Uji"
head_name = "Siti Aminah, S.Kom."
head_nip = "19800101 200501 2 001"
[[categories]]
id = "jalan_rusak"
label_id = "Jalan dan jembatan"
label_en = "Roads and bridges"
[[categories]]
id = "air_bersih"
label_id = "Air bersih"
label_en = "Clean water"
"""


def _case(rt, s, opened, steps, kind="pengaduan", category="jalan_rusak", channel="webchat"):
    case = rt.cases.open_case(s, kind=kind, text="Laporan untuk uji", channel=channel, category=category, now=opened)
    for trigger, at, *unit in steps:
        actor = {"start": UNIT, "answer": UNIT, "accept": CITIZEN, "provide_info": CITIZEN}.get(trigger, ADMIN)
        note = "Catatan" if trigger in ("answer", "request_info", "refer", "reject") else None
        rt.cases.fire(s, case.ticket, trigger, actor, note=note, unit_code=unit[0] if unit else None, now=at)
    return case


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    folder = tmp_path_factory.mktemp("monthly")
    cfg = folder / "config.toml"
    cfg.write_text(CONFIG.format(url=f"sqlite:///{folder / 'aduan.db'}"), encoding="utf-8")
    rt = Runtime(load_settings(str(cfg)))
    upgrade(rt.engine)
    with transaction(rt.sessions) as s:
        add_unit(s, "PUPR", "Dinas Pekerjaan Umum")
        add_unit(s, "PDAM", "Perusahaan Air Minum")
        answered = [("verify", wib(2025, 4, 9, 9)), ("dispose", wib(2025, 4, 9, 10), "PUPR"),
                    ("start", wib(2025, 4, 10, 9)), ("answer", wib(2025, 4, 15, 10))]
        a = _case(rt, s, wib(2025, 4, 8, 9), answered + [("accept", wib(2025, 4, 16, 9))])
        s.add(Rating(case_id=a.id, solved=True, score=4, created_at=wib(2025, 4, 16, 9)))
        a.lapor_tracking_id = "4712345"
        _case(rt, s, wib(2025, 4, 8, 10), answered, kind="aspirasi", channel="whatsapp")
        # at PDAM since 9 April, never started: overdue at the unit
        _case(rt, s, wib(2025, 4, 8, 11), [("dispose", wib(2025, 4, 9, 9), "PDAM")], kind="permintaan_informasi",
              category="air_bersih", channel="front_desk")
        _case(rt, s, wib(2025, 4, 14, 9), [("request_info", wib(2025, 4, 14, 10)),
                                          ("archive_incomplete", wib(2025, 4, 29, 9))], channel="telegram")
        _case(rt, s, wib(2025, 4, 15, 9), [("refer", wib(2025, 4, 16, 9))], category=None)
        late = _case(rt, s, wib(2025, 4, 22, 9), [], channel="sp4n_lapor")
        late.escalated_at = wib(2025, 4, 28, 9)
        late.category = "jalan_berlubang"  # a category the office has dropped since
    yield rt, str(cfg), folder
    rt.close()


@pytest.fixture(scope="module")
def made(office):
    """`aduan report monthly` for April in each format and language, once."""
    _, cfg, folder = office
    out = {}

    def make(fmt, lang="id"):
        if (fmt, lang) not in out:
            path = folder / f"april-{lang}.{fmt}"
            r = CliRunner().invoke(main, ["--config", cfg, "report", "monthly", "--month", "2025-04",
                                          "--format", fmt, "--lang", lang, "-o", str(path)], catch_exceptions=False)
            assert r.exit_code == 0, r.output
            out[fmt, lang] = path
        return out[fmt, lang]
    return make


def csv_rows(path):
    return list(csv.reader(path.open(encoding="utf-8")))


def ids_of(rt):
    wf = rt.workflow
    return set(wf.states) | set(wf.roles) | {"permintaan_informasi", "webchat", "whatsapp", "front_desk",
                                               "sp4n_lapor", "jalan_rusak", "air_bersih", "jalan_berlubang"}


def test_no_internal_ids_only_indonesian_labels(office, made):
    rt, _, _ = office
    ids = ids_of(rt)
    for path in (made("csv"), made("xlsx")):
        cells = ([c for row in csv_rows(path) for c in row] if path.suffix == ".csv" else
                 [c.value for ws in load_workbook(path) for row in ws.iter_rows() for c in row])
        assert not ids & {c for c in cells if isinstance(c, str)}, path
    text = pdf_text(made("pdf"))
    found = [i for i in ids if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", text)]
    assert found == []
    for label in ("Belum Terverifikasi", "Permintaan informasi", "Datang langsung", "Jalan dan jembatan", "Selesai",
                  "Jalan berlubang"):
        assert label in text


def test_english_with_lang_en(made):
    text = pdf_text(made("pdf", "en"))
    for label in ("Monthly Report on Complaint Handling", "Follow-up rate", "Not yet verified", "Information request",
                  "Front desk", "Roads and bridges", "Definitions. Followed up", "Page 1"):
        assert label in text, label
    assert "Persentase tindak lanjut" not in text and "Halaman" not in text


def test_the_pdf_is_a4_with_the_office_period_and_the_definitions(made):
    path = made("pdf")
    boxes = re.findall(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", path.read_bytes())
    assert boxes and all(abs(float(w) - 595.28) < 0.1 and abs(float(h) - 841.89) < 0.1 for w, h in boxes)
    pages = pdf_text(path).split("\f")
    assert all("Dinas Kominfo Kota Uji" in p and "April 2025" in p for p in pages if p.strip())
    text = " ".join(" ".join(pages).split())
    assert "Definisi. Sudah ditindaklanjuti: laporan yang sampai 30 April 2025 sudah dijawab" in text
    assert "Bukan Wewenang dan Ditolak dihitung tersendiri dan tidak masuk pembagi" in text
    assert "tanpa waktu menunggu pelapor (Menunggu Kelengkapan)" in text


def test_follow_up_table_counts_apart(made):
    rows = csv_rows(made("csv"))
    table = {r[0]: r[1:] for r in rows if r}
    # 6 cases: 1 referred out of the denominator; 2 answered of 5; 1 archived; 2 open
    assert table["Laporan yang dihitung"][:2] == ["5", "100.0"]
    assert table["Sudah ditindaklanjuti (lama sampai jawaban pertama)"] == ["2", "40.0", "5.0"]
    assert table["Tidak ditindaklanjuti: Diarsipkan (tidak lengkap)"][:2] == ["1", "20.0"]
    assert table["Belum ditindaklanjuti, masih berjalan (lama sejauh ini)"][:2] == ["2", "40.0"]
    assert table["Bukan Wewenang (tidak masuk pembagi)"][0] == "1"


def test_sla_rows_in_workflow_order(office, made):
    rt, _, _ = office
    rows = csv_rows(made("csv"))
    start = rows.index(["Kepatuhan waktu per tahap"]) + 2
    stages = [r[0] for r in rows[start:start + 4]]
    assert stages == ["Belum Terverifikasi", "Terverifikasi", "Belum Ditindaklanjuti", "Proses"]
    # the states as `aduan workflow show` lists them: the main path, the waits, the ends
    order = [rt.workflow.states[s].label_id for s in rt.workflow.ordered_states()]
    start = rows.index(["Menurut status"]) + 2
    states = [r[0] for r in rows[start:] if r and r[0] != "Jumlah"][:5]
    assert states == sorted(states, key=order.index) and states[0] == "Belum Terverifikasi"


def test_per_unit_table(made):
    rows = csv_rows(made("csv"))
    start = rows.index(["Tindak lanjut per unit kerja"]) + 1
    assert rows[start] == ["Unit kerja", "Laporan", "Ditindaklanjuti", "Persentase", "Rata-rata hari kerja",
                           "Terlambat"]
    units = {r[0]: r[1:] for r in rows[start + 1:start + 5]}
    assert units["Dinas Pekerjaan Umum (PUPR)"] == ["2", "2", "100.0", "5.0", "0"]
    assert units["Perusahaan Air Minum (PDAM)"] == ["1", "0", "0.0", "", "1"]
    assert units["(belum diteruskan ke unit kerja)"][:2] == ["3", "0"]
    assert units["Jumlah"] == ["6", "2", "40.0", "5.0", "1"]


def test_xlsx_numbers_are_numbers_with_formats(made):
    book = load_workbook(made("xlsx"))
    cells = {ws.cell(c.row, 1).value: ws.cell(c.row, c.column + 1)
             for ws in book for row in ws.iter_rows() for c in row[:1] if isinstance(c.value, str)}
    rate = cells["Persentase tindak lanjut"]
    assert rate.value == pytest.approx(0.4) and rate.number_format == "0.0%"
    days = cells["Rata-rata lama tindak lanjut"]
    assert days.value == pytest.approx(5.0) and days.number_format == "#,##0.0"
    assert cells["Laporan masuk"].value == 6 and cells["Laporan masuk"].number_format == "#,##0"
    score = cells["Rata-rata nilai (1–5)"]
    assert score.value == pytest.approx(4.0) and score.number_format == "#,##0.00"
    cases = book["Kasus"]
    header = next(r for r in cases.iter_rows(values_only=True) if r[0] == "Tiket")  # the sheet holds one table
    arrived = [r[header.index("Masuk")] for r in cases.iter_rows(values_only=True) if str(r[0]).startswith("ADU-")]
    assert all(isinstance(a, datetime) for a in arrived) and arrived[0] == datetime(2025, 4, 8, 9, 0)


def test_the_case_list_carries_the_lapor_ids_and_the_unit(made):
    rows = csv_rows(made("csv"))
    rows = rows[rows.index(["Daftar laporan masuk"]) + 1:]
    header = rows[0]
    cases = [dict(zip(header, r)) for r in rows if r and r[0].startswith("ADU-")]
    assert len(cases) == 6 and cases[0]["Nomor SP4N-LAPOR!"] == "4712345" and cases[0]["Unit kerja"] == "PUPR"
    assert cases[0]["Masuk"] == "2025-04-08 09:00" and cases[2]["Kanal"] == "Datang langsung"


def test_signature_block_from_the_office_config(made):
    text = pdf_text(made("pdf"))
    assert re.search(r"Kota Uji, \d{1,2} \w+ \d{4}", text)
    for line in ("Pimpinan", "Siti Aminah, S.Kom.", "NIP. 19800101 200501 2 001"):  # the workflow's leadership label
        assert line in text


def test_month_defaults_to_the_last_full_month_in_office_time(office, tmp_path, monkeypatch):
    from bot.reports.monthly import last_full_month

    rt, cfg, _ = office
    # 1 May 00:30 WIB is still 30 April in UTC: the office's last full month is April
    assert last_full_month(rt.calendar, datetime(2025, 4, 30, 17, 30, tzinfo=timezone.utc)) == "2025-04"
    assert last_full_month(rt.calendar, wib(2025, 1, 15, 9)) == "2024-12"
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["--config", cfg, "report", "monthly", "--format", "csv"], catch_exceptions=False)
    expected = last_full_month(rt.calendar, datetime.now(timezone.utc))
    assert r.exit_code == 0 and r.output.startswith(f"laporan-{expected}.csv: {expected}, ")
    assert (tmp_path / f"laporan-{expected}.csv").exists()
