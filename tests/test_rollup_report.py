"""A province's monthly report with the offices under it (`aduan --office utama report monthly
--with-children`): one row per child office, counted as that office's own report counts it
(its workflow, its calendar: its April in its own time zone), a total of the counts; an office
not under it, or under a child, is not in it."""
import csv

import pytest
from openpyxl import load_workbook

from bot.config import load_settings
from bot.runtime import Runtime
from storage.units import add_unit
from tests.conftest import wib
from tests.test_cli import fails_with
from tests.test_cli_offices import aduan, config  # noqa: F401 (the fixture)
from tests.test_monthly_report import _case
from tests.test_report_document import pdf_text

ANSWERED = [("verify", wib(2025, 4, 9, 9)), ("dispose", wib(2025, 4, 9, 10), "PU"),
            ("start", wib(2025, 4, 10, 9)), ("answer", wib(2025, 4, 15, 10))]
TITLE = "Kantor di bawahnya"


@pytest.fixture
def province(config):  # noqa: F811
    for args in (["kab-a", "--name", "BPS Kab A", "--parent", "utama", "--ticket-prefix", "KBA"],
                 ["kota-b", "--name", "BPS Kota B", "--parent", "utama", "--timezone", "Asia/Jayapura"],
                 ["kota-d", "--name", "BPS Kota D"],  # under no one
                 ["kab-e", "--name", "BPS Kab E", "--parent", "kab-a"]):  # under a child
        assert aduan("office", "add", *args, config=config).exit_code == 0
    rt = Runtime(load_settings(config))
    try:
        def cases(code, *made):
            office = rt.office_by_code(code)
            with office.transaction() as s:
                add_unit(s, "PU", "Pekerjaan Umum")
                for opened, steps in made:
                    _case(office, s, opened, steps)

        cases("utama", (wib(2025, 4, 8, 9), ANSWERED))
        cases("kab-a", (wib(2025, 4, 8, 9), ANSWERED), (wib(2025, 4, 14, 9), [("refer", wib(2025, 4, 15, 9))]),
              (wib(2025, 4, 22, 9), []))
        # 30 April 23:30 WIB is 1 May 01:30 in Kota B: its May, not its April
        cases("kota-b", (wib(2025, 4, 8, 9), []), (wib(2025, 4, 30, 23, 30), []))
        cases("kota-d", (wib(2025, 4, 8, 9), ANSWERED), (wib(2025, 4, 9, 9), []))
        cases("kab-e", (wib(2025, 4, 8, 9), []))
    finally:
        rt.close()
    return config


def report(config, tmp_path, office, fmt="csv", *more):
    path = tmp_path / f"{office}.{fmt}"
    r = aduan("--office", office, "report", "monthly", "--month", "2025-04", "--format", fmt, "-o", str(path),
              *more, config=config)
    assert r.exit_code == 0, r.output + r.stderr
    return path, r.output


def table(rows, title):
    at = next(i for i, row in enumerate(rows) if row == [title])
    body = []
    for row in rows[at + 2:]:
        if len(row) < 2:  # the blank line after it, or the note under it
            break
        body.append(row)
    return rows[at + 1], body


def summary(rows) -> dict:
    _, body = table(rows, "Ringkasan")
    return {r[0]: r[1] for r in body}


def test_the_province_report_has_a_row_per_office_under_it(province, tmp_path):
    path, out = report(province, tmp_path, "utama", "csv", "--with-children")
    assert "1 cases" in out and "2 office(s) under it: kab-a, kota-b" in out
    rows = list(csv.reader(path.open(encoding="utf-8")))
    head, body = table(rows, TITLE)
    assert head == ["Kantor", "Laporan", "Ditindaklanjuti", "Persentase", "Kepatuhan", "Rata-rata hari kerja"]
    by_office = {r[0]: r[1:] for r in body}
    assert list(by_office) == ["BPS Kab A (kab-a)", "BPS Kota B (kota-b)", "Jumlah"]  # not kota-d, not kab-e

    # Each row is what that office's own monthly report says.
    for code, name in (("kab-a", "BPS Kab A (kab-a)"), ("kota-b", "BPS Kota B (kota-b)")):
        own = summary(list(csv.reader(report(province, tmp_path, code)[0].open(encoding="utf-8"))))
        row = by_office[name]
        assert row[0] == own["Laporan masuk"] and row[2] == own["Persentase tindak lanjut"]
        assert row[3] == own["Tahap selesai tepat waktu"] and row[4] == own["Rata-rata lama tindak lanjut"]
    # ... and by hand: Kab A 3 cases, 1 answered of 2 counted (the referred one is not);
    # Kota B's April (WIT) has 1 case, not answered.
    assert by_office["BPS Kab A (kab-a)"][:3] == ["3", "1", "50.0"] and by_office["BPS Kab A (kab-a)"][4] != ""
    assert by_office["BPS Kota B (kota-b)"][:3] == ["1", "0", "0.0"] and by_office["BPS Kota B (kota-b)"][4] == ""
    total = by_office["Jumlah"]
    assert total[:3] == ["4", "1", "33.3"] and total[4] == by_office["BPS Kab A (kab-a)"][4]
    # The province's own figures stay its own.
    assert summary(rows)["Laporan masuk"] == "1"

    # Without the flag the report is the office's alone.
    rows = list(csv.reader(report(province, tmp_path, "utama")[0].open(encoding="utf-8")))
    assert [TITLE] not in rows and summary(rows)["Laporan masuk"] == "1"


def test_the_roll_up_in_xlsx_and_pdf(province, tmp_path):
    path, _ = report(province, tmp_path, "utama", "xlsx", "--with-children")
    ws = load_workbook(path)["Ringkasan"]
    values = [[c.value for c in row] for row in ws.iter_rows()]
    at = values.index([TITLE] + [None] * (len(values[0]) - 1))
    assert values[at + 2][:4] == ["BPS Kab A (kab-a)", 3, 1, 0.5]  # numbers as numbers
    assert ws.cell(at + 3, 4).number_format == "0.0%"
    text = pdf_text(report(province, tmp_path, "utama", "pdf", "--with-children")[0])
    assert TITLE in text and "BPS Kota B (kota-b)" in text and "BPS Kota D" not in text


def test_a_child_s_own_children_and_an_office_with_none(province, tmp_path):
    rows = list(csv.reader(report(province, tmp_path, "kab-a", "csv", "--with-children")[0].open(encoding="utf-8")))
    _, body = table(rows, TITLE)
    assert [r[:2] for r in body] == [["BPS Kab E (kab-e)", "1"], ["Jumlah", "1"]]
    assert fails_with(aduan("--office", "kota-d", "report", "monthly", "--month", "2025-04", "--with-children",
                            config=province), "no office is under office kota-d")
