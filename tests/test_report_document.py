"""The report document: one model, three renderings (csv, xlsx with numbers, A4 PDF)."""
import csv
import io
import os
import re
import shutil
import subprocess
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from bot.reports.document import Chart, Column, Document, Paragraph, Signature, Table, number_text, write

CI = os.environ.get("ADUAN_TEST_BROWSER") == "1"  # CI installs poppler-utils with Chromium


def pdf_text(path) -> str:
    if not shutil.which("pdftotext"):
        if CI:
            pytest.fail("pdftotext (poppler-utils) is not installed")
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def sample(rows=None) -> Document:
    return Document(
        "Laporan Bulanan", "BPS Kota <Sorong>", "April 2025",
        [Paragraph("Ringkasan", heading=True),
         Table("Tindak lanjut", [Column("Ukuran", width=3), Column("Jumlah", "int"), Column("Persen", "pct"),
                                 Column("Rata-rata", "dec2")],
               rows if rows is not None else [["Dijawab <b>", 1234, 2 / 3, Decimal("3.125")],
                                              ["=cmd|'/Ccalc'!A0", 5, 1.0, 0.5]],
               note="Definisi: tindak lanjut = dijawab.", total=["Jumlah", 1239, 0.7, 1.0]),
         Table("Tanggal", [Column("Tiket"), Column("Masuk", "date")], [["ADU-1", date(2025, 4, 3)]], sheet="Kasus")],
        signature=Signature("Sorong, 2 Mei 2025", "Kepala BPS Kota Sorong"), generated=datetime(2025, 5, 2, 8))


def test_numbers_read_as_in_indonesian_and_round_half_up():
    assert number_text(2 / 3, "pct") == "66,7 %"
    assert number_text(1234, "int") == "1.234"
    assert number_text(3.25, "dec1") == "3,3"  # float's own rounding gives 3.2
    assert number_text(3.25, "dec1", "en") == "3.3"
    assert number_text(None, "int") == "-"
    assert number_text(date(2025, 4, 3), "date") == "3 Apr 2025"


def test_xlsx_holds_numbers_with_formats_and_no_formulas(tmp_path):
    path = tmp_path / "r.xlsx"
    write(sample(), "xlsx", path)
    book = load_workbook(path)
    sheet = book["Ringkasan"]
    values = {c.coordinate: c for row in sheet.iter_rows() for c in row if c.value is not None}
    number = next(c for c in values.values() if c.value == 1234)
    assert number.number_format == "#,##0"
    pct = next(c for c in values.values() if isinstance(c.value, float) and abs(c.value - 2 / 3) < 1e-9)
    assert pct.number_format == "0.0%"
    assert not any(isinstance(c.value, str) and c.value.startswith("=") for c in values.values())
    assert "'=cmd|'/Ccalc'!A0" in [c.value for c in values.values()]
    dated = [c for row in book["Kasus"].iter_rows() for c in row if isinstance(c.value, datetime)]
    assert dated and dated[0].number_format == "yyyy-mm-dd"


def test_csv_is_plain_figures(tmp_path):
    path = tmp_path / "r.csv"
    write(sample(), "csv", path)
    rows = list(csv.reader(io.StringIO(path.read_text("utf-8"))))
    assert ["Dijawab <b>", "1234", "66.7", "3.13"] in rows
    assert ["'=cmd|'/Ccalc'!A0", "5", "100.0", "0.50"] in rows


def test_pdf_is_a4_with_headed_tables_office_period_and_signature(tmp_path):
    path = tmp_path / "r.pdf"
    write(sample(), "pdf", path)
    raw = path.read_bytes()
    boxes = re.findall(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", raw)
    assert boxes and all(abs(float(w) - 595.28) < 0.1 and abs(float(h) - 841.89) < 0.1 for w, h in boxes)
    text = pdf_text(path)
    for expected in ("Laporan Bulanan", "BPS Kota <Sorong>", "April 2025", "Ukuran", "Persen", "66,7 %",
                     "1.234", "Dijawab <b>", "Definisi: tindak lanjut", "Kepala BPS Kota Sorong", "Halaman 1"):
        assert expected in text, expected


def test_pdf_table_longer_than_a_page_repeats_its_header(tmp_path):
    path = tmp_path / "long.pdf"
    rows = [[f"baris {i}", i, 0.5, 1] for i in range(150)]
    write(sample(rows), "pdf", path)
    pages = pdf_text(path).split("\f")
    assert len([p for p in pages if p.strip()]) >= 3
    assert all("Ukuran" in p for p in pages[1:] if "baris" in p)


def test_chart_is_scaled_into_the_page(tmp_path):
    from bot.reports.charts import chart_png
    from storage.reporting import PeriodFigures

    png = chart_png(PeriodFigures(datetime(2025, 4, 1), datetime(2025, 5, 1)), {})
    doc = Document("Grafik", "Kantor", "April 2025", [Chart("Pengaduan per minggu", png)])
    path = tmp_path / "c.pdf"
    write(doc, "pdf", path)
    assert "Pengaduan per minggu" in pdf_text(path)
    write(doc, "xlsx", tmp_path / "c.xlsx")
    assert load_workbook(tmp_path / "c.xlsx")["Grafik"]._images
