"""Exports and terminals safe (issue 11, item 7): a typed text is never a formula in a
spreadsheet, never mathtext in the pdf, and never a terminal control sequence."""
from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bot.cli import main
from bot.config import Settings
from bot.reports.cells import cell
from bot.reports.charts import chart_png
from bot.runtime import Runtime
from flows.messages import Attachment, Inbound
from storage.db import transaction
from storage.models import Citizen
from storage.reporting import figures
from bot.reports.monthly import month_bounds
from tests.conftest import wib

FORMULA = "=cmd|'/Ccalc'!A0"
MATH = r"$\frac{$"
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31mSiti\x9b0m"


@pytest.fixture
def office(database_url, engine, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{database_url}"\n')
    rt = Runtime(Settings.model_validate({"database": {"url": database_url}}))
    tickets = []
    with transaction(rt.sessions) as s:
        # Rows as they may stand from before the channels cleaned texts: the CLI cleans too.
        citizen = Citizen(name=ESCAPES, language="id")
        s.add(citizen)
        for lapor, text in ((FORMULA, "Lampu mati\x1b[1A\x1b[2K sejak kemarin"), (MATH, "Jalan rusak parah"),
                            ("@SUM(1+1)*cmd|' /C calc'!A0", "Air mati tiga hari"), ("-2+3+cmd|' /C calc'!A0", "x" * 12)):
            case = rt.cases.open_case(s, kind="pengaduan", text=text, channel="webchat", citizen=citizen,
                                      now=wib(2025, 4, 8, 9, 0))
            case.lapor_tracking_id = lapor
            tickets.append(case.ticket)
    yield rt, str(cfg), tickets
    rt.close()


def cli(cfg, *args):
    result = CliRunner().invoke(main, ["--config", cfg, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_case_export_csv_keeps_formulas_as_text(office):
    _, cfg, _ = office
    rows = list(csv.DictReader(io.StringIO(cli(cfg, "cases", "export", "--format", "csv"))))
    assert [r["lapor_tracking_id"] for r in rows] == [
        "'" + FORMULA, MATH, "'@SUM(1+1)*cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"]
    assert FORMULA in cli(cfg, "cases", "export")  # jsonl is data, not a sheet: as it was typed


def test_the_monthly_report_keeps_formulas_as_text_in_xlsx_and_csv(office, tmp_path):
    _, cfg, tickets = office
    xlsx, out = tmp_path / "r.xlsx", tmp_path / "r.csv"
    cli(cfg, "report", "monthly", "--month", "2025-04", "-o", str(xlsx))
    sheet = load_workbook(xlsx)["Kasus"]
    lapor = {r[0].value: r[6] for r in sheet.iter_rows(min_row=2)}
    assert lapor[tickets[0]].value == "'" + FORMULA and lapor[tickets[0]].data_type == "s"
    assert all(c.data_type != "f" for row in load_workbook(xlsx)["Kasus"].iter_rows() for c in row)
    cli(cfg, "report", "monthly", "--month", "2025-04", "--format", "csv", "-o", str(out))
    written = {r[0]: r[6] for r in csv.reader(out.open(encoding="utf-8")) if r and r[0] in tickets}
    assert written[tickets[0]] == "'" + FORMULA and written[tickets[2]].startswith("'@")


def test_a_dollar_sign_does_not_break_the_pdf_or_the_chart(office, tmp_path):
    rt, cfg, _ = office
    pdf = tmp_path / "r.pdf"
    cli(cfg, "report", "monthly", "--month", "2025-04", "--format", "pdf", "-o", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    start, end = month_bounds(rt.calendar, "2025-04")
    with rt.sessions() as s:
        f = figures(s, rt.workflow, rt.calendar, start, end)
    assert chart_png(f, {"received": MATH}).startswith(b"\x89PNG")


def test_cases_show_prints_no_control_characters(office):
    _, cfg, tickets = office
    shown = cli(cfg, "cases", "show", tickets[0])
    assert "Siti" in shown and "sejak kemarin" in shown
    assert not any(c in shown for c in "\x1b\x07\x9b\x00"), repr(shown)


def test_the_channel_boundary_strips_control_characters_but_newline_and_tab():
    inbound = Inbound("webchat", "w-1", "m-1", text=f"Nama: {ESCAPES}\x00\r\nBaris\tdua\rtiga\x7f")
    assert inbound.text == "Nama: ]0;pwned[2J[31mSiti0m\nBaris\tdua\ntiga"
    assert Attachment("document", "ref\x1b", filename="a\x1b[2Jb.pdf").filename == "a[2Jb.pdf"


@pytest.mark.parametrize("value, safe", [
    ("=1+1", "'=1+1"), ("+62 811", "'+62 811"), ("-", "-"), ("-1.5", "-1.5"), ("12%", "12%"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("@x", "'@x"), ("LAP-1", "LAP-1"), (3, 3), (None, None)])
def test_the_cell_rule(value, safe):
    assert cell(value) == safe
