"""A report as data (title, office, period, tables, charts, a signature block) and its three
renderings: csv (for machines), xlsx (numbers as numbers, with formats) and an A4 PDF (headed
tables, the office and period on every page, page numbers), so every report looks alike and
each is built once.

A value in a table keeps its type: int, float or Decimal (with the column's kind saying how it
reads), date/datetime, or text. Percentages are fractions (0.667), shown as 66,7 % in the PDF
and formatted as a percentage in xlsx. Text typed by people (names, categories, ids) goes
through `cells` in csv and xlsx (no formulas) and is escaped in the PDF (no markup)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from bot.reports.cells import cell

# How each kind of column reads: (xlsx number format, decimals in csv/pdf, is a percentage)
KINDS = {
    "text": (None, None, False),
    "int": ("#,##0", 0, False),
    "dec1": ("#,##0.0", 1, False),
    "dec2": ("#,##0.00", 2, False),
    "dec4": ("0.0000", 4, False),
    "pct": ("0.0%", 1, True),
    "date": ("yyyy-mm-dd", None, False),
    "datetime": ("yyyy-mm-dd hh:mm", None, False),
}


@dataclass
class Column:
    title: str
    kind: str = "text"
    width: float = 1.0  # relative width in the PDF
    pdf: bool = True  # False: in csv and xlsx only (a printed page has room for fewer columns)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[list]
    note: str = ""  # printed under the table: a definition, a source
    sheet: str = ""  # xlsx sheet; tables with the same sheet are stacked; default: "Ringkasan"
    total: list | None = None  # a last row in bold (totals)
    empty: str = "-"  # what a table without rows says
    print_limit: int | None = None  # the PDF prints this many rows at most (csv/xlsx have all) ...
    cut_note: str = ""  # ... and then says so with this note


@dataclass(frozen=True)
class Value:
    """A cell read as another kind than its column's: a summary's mixed figures (a count, a
    percentage, a number of days) in one "value" column."""
    value: object
    kind: str


@dataclass
class Paragraph:
    text: str
    heading: bool = False
    new_page: bool = False  # in the PDF: an appendix starts on a page of its own


@dataclass
class Blank:
    """A labelled space a person fills in: ruled lines on paper, an empty cell in a sheet."""
    label: str
    lines: int = 3


@dataclass
class Chart:
    title: str
    png: bytes
    width_cm: float = 17.0  # the PDF scales the picture to this width, keeping its shape


@dataclass
class Signature:
    place_date: str  # "Sorong, 2 Mei 2025"
    role: str  # "Kepala BPS Kota Sorong"
    name: str = ""  # blank: a line to sign and write on
    note: str = ""  # NIP or the like


@dataclass
class Document:
    """`signature` comes last; a Signature among the blocks stands where it is (before an
    appendix)."""
    title: str
    office: str
    period: str
    blocks: list = field(default_factory=list)
    lang: str = "id"
    signature: Signature | None = None
    generated: datetime | None = None

    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]


LOCALES = {"id": "id_ID", "en": "en_GB"}


def rounded(value, decimals: int) -> Decimal:
    """Half up, as people round (3.25 -> 3.3); float's own rounding is half-even on binary."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def _unpack(value, kind: str) -> tuple:
    return (value.value, value.kind) if isinstance(value, Value) else (value, kind)


def _naive(value):
    """Spreadsheets have no time zones: a time as the office's clock showed it."""
    return value.replace(tzinfo=None) if isinstance(value, datetime) and value.tzinfo else value


def number_text(value, kind: str, lang: str = "id") -> str:
    """A figure as the report's reader writes it: 66,7 % and 1.234 in Indonesian."""
    value, kind = _unpack(value, kind)
    if value == "":
        return ""  # a blank stays blank (no remark, no id yet)
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return format_datetime(value, "d MMM y HH.mm" if lang == "id" else "d MMM y HH:mm", locale=LOCALES[lang])
    if isinstance(value, date):
        return format_date(value, "d MMM yyyy", locale=LOCALES[lang])
    fmt, decimals, pct = KINDS[kind]
    if fmt is None or not isinstance(value, (int, float, Decimal)):
        return str(value)
    shown = rounded(value * 100 if pct else value, decimals)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(shown, pattern, locale=LOCALES[lang], decimal_quantization=False) + (" %" if pct else "")


def csv_cell(value, kind: str):
    """csv: numbers without grouping, a dot for decimals (machines read it); pct as 66.7."""
    value, kind = _unpack(value, kind)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    fmt, decimals, pct = KINDS[kind]
    if fmt is not None and isinstance(value, (int, float, Decimal)):
        return str(rounded(value * 100 if pct else value, decimals))
    return cell(str(value))


def write(doc: Document, fmt: str, path_or_file) -> None:
    """Write `doc` as csv, xlsx or pdf to a path or a binary file object."""
    from bot.reports.pdf import write_pdf

    writer = {"csv": write_csv, "xlsx": write_xlsx, "pdf": write_pdf}[fmt]
    if isinstance(path_or_file, (str, bytes)) or hasattr(path_or_file, "__fspath__"):
        with open(path_or_file, "wb") as out:
            writer(doc, out)
    else:
        writer(doc, path_or_file)


def write_csv(doc: Document, out) -> None:
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow([cell(doc.title), cell(doc.office)])
    w.writerow([cell(doc.period)])
    for block in doc.blocks:
        if isinstance(block, Paragraph):
            w.writerow([cell(block.text)])
        elif isinstance(block, Blank):
            w.writerow([cell(block.label), ""])
        elif isinstance(block, Table):
            w.writerow([])
            w.writerow([cell(block.title)])
            w.writerow([cell(c.title) for c in block.columns])
            for row in block.rows + ([block.total] if block.total else []):
                w.writerow([csv_cell(v, c.kind) for v, c in zip(row, block.columns)])
            if block.note:
                w.writerow([cell(block.note)])
    out.write(text.getvalue().encode("utf-8"))


def write_xlsx(doc: Document, out) -> None:
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    bold, head_fill = Font(bold=True), PatternFill("solid", fgColor="DDE6F0")
    sheets: dict[str, object] = {}

    def sheet_for(name: str):
        name = (name or ("Ringkasan" if doc.lang == "id" else "Summary"))[:31]
        if name not in sheets:
            ws = book.create_sheet(name)
            ws.append([cell(doc.title)])
            ws["A1"].font = Font(bold=True, size=13)
            ws.append([cell(doc.office)])
            ws.append([cell(doc.period)])
            sheets[name] = ws
        return sheets[name]

    widths: dict[str, dict[int, float]] = {}
    for block in doc.blocks:
        if isinstance(block, Paragraph):
            ws = sheet_for("")
            ws.append([])
            ws.append([cell(block.text)])
            if block.heading:
                ws.cell(ws.max_row, 1).font = bold
            continue
        if isinstance(block, Blank):
            ws = sheet_for("")
            ws.append([cell(block.label), ""])
            ws.cell(ws.max_row, 1).font = Font(italic=True)
            ws.cell(ws.max_row, 2).border = Border(bottom=Side(style="thin"))
            continue
        if isinstance(block, Chart):
            ws = sheet_for("Grafik" if doc.lang == "id" else "Charts")
            ws.append([cell(block.title)])
            ws.cell(ws.max_row, 1).font = bold
            anchor = ws.max_row + 1
            ws.add_image(Image(io.BytesIO(block.png)), f"A{anchor}")
            for _ in range(24):  # room for the picture before the next one
                ws.append([])
            continue
        if not isinstance(block, Table):
            continue
        ws = sheet_for(block.sheet)
        ws.append([])
        ws.append([cell(block.title)])
        ws.cell(ws.max_row, 1).font = Font(bold=True, size=12)
        ws.append([cell(c.title) for c in block.columns])
        for i in range(1, len(block.columns) + 1):
            c = ws.cell(ws.max_row, i)
            c.font, c.fill = bold, head_fill
            c.alignment = Alignment(wrap_text=True, vertical="top")
        body = block.rows + ([block.total] if block.total else [])
        header_row = ws.max_row  # openpyxl reads every cell for max_row: once a table, not once a cell
        for n, row in enumerate(body):
            values = [_naive(_unpack(v, "text")[0]) for v in row]
            ws.append([cell(v) if isinstance(v, str) else v for v in values])
            for i, (v, col) in enumerate(zip(row, block.columns), start=1):
                v, kind = _unpack(v, col.kind)
                fmt = KINDS[kind][0]
                target = ws.cell(header_row + 1 + n, i)
                if fmt and isinstance(v, (int, float, Decimal, date)):
                    target.number_format = fmt
                if block.total and n == len(body) - 1:
                    target.font = bold
                seen = widths.setdefault(ws.title, {})
                seen[i] = max(seen.get(i, 8), min(60, len(number_text(v, kind, doc.lang)) + 2))
        if not block.rows:
            ws.append([cell(block.empty)])
        if block.note:
            ws.append([cell(block.note)])
            ws.cell(ws.max_row, 1).font = Font(italic=True, size=9)
    for title, seen in widths.items():
        ws = book[title]
        for i, width in seen.items():
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.column_dimensions["A"].width = max(ws.column_dimensions["A"].width or 0, 24)
    if not sheets:
        sheet_for("")
    book.save(out)
