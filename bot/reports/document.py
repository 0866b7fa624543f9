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
from xml.sax.saxutils import escape

from babel.dates import format_date
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


@dataclass
class Paragraph:
    text: str
    heading: bool = False


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


def number_text(value, kind: str, lang: str = "id") -> str:
    """A figure as the report's reader writes it: 66,7 % and 1.234 in Indonesian."""
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return format_date(value, "d MMM yyyy", locale=LOCALES[lang])
    fmt, decimals, pct = KINDS[kind]
    if fmt is None or not isinstance(value, (int, float, Decimal)):
        return str(value)
    shown = rounded(value * 100 if pct else value, decimals)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(shown, pattern, locale=LOCALES[lang], decimal_quantization=False) + (" %" if pct else "")


def _plain(value, kind: str):
    """csv: numbers without grouping, a dot for decimals (machines read it); pct as 66.7."""
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
        if isinstance(block, Table):
            w.writerow([])
            w.writerow([cell(block.title)])
            w.writerow([cell(c.title) for c in block.columns])
            for row in block.rows + ([block.total] if block.total else []):
                w.writerow([_plain(v, c.kind) for v, c in zip(row, block.columns)])
            if block.note:
                w.writerow([cell(block.note)])
    out.write(text.getvalue().encode("utf-8"))


def write_xlsx(doc: Document, out) -> None:
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Alignment, Font, PatternFill
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
            ws.append([cell(v) if isinstance(v, str) else v for v in row])
            for i, (v, col) in enumerate(zip(row, block.columns), start=1):
                fmt = KINDS[col.kind][0]
                target = ws.cell(header_row + 1 + n, i)
                if fmt and isinstance(v, (int, float, Decimal, date)):
                    target.number_format = fmt
                if block.total and n == len(body) - 1:
                    target.font = bold
                seen = widths.setdefault(ws.title, {})
                seen[i] = max(seen.get(i, 8), min(60, len(number_text(v, col.kind, doc.lang)) + 2))
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


def _fonts() -> tuple[str, str]:
    """DejaVu Sans from matplotlib's own files: every letter a name or a typed text may hold
    (reportlab's built-in Helvetica has Latin-1 only), with nothing more to install."""
    from pathlib import Path

    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(folder / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(folder / "DejaVuSans-Bold.ttf")))
        pdfmetrics.registerFontFamily("DejaVuSans", normal="DejaVuSans", bold="DejaVuSans-Bold",
                                      italic="DejaVuSans", boldItalic="DejaVuSans-Bold")
    return "DejaVuSans", "DejaVuSans-Bold"


def write_pdf(doc: Document, out) -> None:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import (CondPageBreak, Image, KeepTogether, Paragraph as P, SimpleDocTemplate,
                                    Spacer, Table as T, TableStyle)

    regular, strong = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=11.5)
    cell_style = ParagraphStyle("cell", parent=body, fontSize=8, leading=10)
    number_style = ParagraphStyle("number", parent=cell_style, alignment=TA_RIGHT)
    head_style = ParagraphStyle("head", parent=cell_style, fontName=strong)
    head_number = ParagraphStyle("headnum", parent=head_style, alignment=TA_RIGHT)
    title_style = ParagraphStyle("title", parent=body, fontName=strong, fontSize=14, leading=18, spaceAfter=2)
    sub_style = ParagraphStyle("sub", parent=body, fontSize=10, leading=13)
    h2 = ParagraphStyle("h2", parent=body, fontName=strong, fontSize=10.5, leading=14, spaceBefore=10, spaceAfter=4)
    note_style = ParagraphStyle("note", parent=body, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#444444"))

    def text(value) -> str:
        return escape(str(value)).replace("\n", "<br/>")

    width = A4[0] - 3.6 * cm
    flow = [P(text(doc.title), title_style), P(text(doc.office), sub_style),
            P(text(doc.period), sub_style), Spacer(1, 0.3 * cm)]
    for block in doc.blocks:
        if isinstance(block, Paragraph):
            flow.append(P(text(block.text), h2 if block.heading else body))
        elif isinstance(block, Chart):
            from reportlab.lib.utils import ImageReader

            w, h = ImageReader(io.BytesIO(block.png)).getSize()
            shown = min(block.width_cm * cm, width)
            flow.append(KeepTogether([P(text(block.title), h2),
                                      Image(io.BytesIO(block.png), width=shown, height=shown * h / w)]))
        elif isinstance(block, Table):
            numeric = [KINDS[c.kind][0] is not None and c.kind not in ("date", "datetime") for c in block.columns]
            header = [P(text(c.title), head_number if num else head_style) for c, num in zip(block.columns, numeric)]
            rows = [[P(text(number_text(v, c.kind, doc.lang)), number_style if num else cell_style)
                     for v, c, num in zip(row, block.columns, numeric)]
                    for row in block.rows + ([block.total] if block.total else [])]
            if not rows:
                rows = [[P(text(block.empty), cell_style)] + [""] * (len(block.columns) - 1)]
            weights = sum(c.width for c in block.columns)
            table = T([header] + rows, colWidths=[width * c.width / weights for c in block.columns], repeatRows=1)
            style = [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#8a99a8")),
                     ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
                     ("VALIGN", (0, 0), (-1, -1), "TOP"),
                     ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
            style += [("BACKGROUND", (0, i), (-1, i), colors.HexColor("#f4f6f8")) for i in range(2, len(rows) + 1, 2)]
            if block.total:
                style.append(("LINEABOVE", (0, -1), (-1, -1), 1, colors.black))
            if not block.rows:
                style.append(("SPAN", (0, 1), (-1, 1)))
            table.setStyle(TableStyle(style))
            flow += [CondPageBreak(3 * cm), P(text(block.title), h2), table]
            if block.note:
                flow += [Spacer(1, 2), P(text(block.note), note_style)]
    if doc.signature:
        sig = doc.signature
        sign = [P(text(sig.place_date), body), P(text(sig.role), body), Spacer(1, 1.8 * cm),
                P(f"<u>{text(sig.name)}</u>" if sig.name else "(" + "_" * 30 + ")", body)]
        if sig.note:
            sign.append(P(text(sig.note), body))
        block = T([["", sign]], colWidths=[width * 0.55, width * 0.45])
        block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
        flow += [Spacer(1, 0.8 * cm), KeepTogether([block])]

    footer_left = f"{doc.office} · {doc.title} · {doc.period}"
    stamp = f"{doc.generated:%Y-%m-%d %H:%M}" if doc.generated else ""
    page_word = "Halaman" if doc.lang == "id" else "Page"

    def decorate(canvas, template):
        canvas.saveState()
        canvas.setFont(regular, 7)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(1.8 * cm, 1.1 * cm, footer_left[:110])
        canvas.drawRightString(A4[0] - 1.8 * cm, 1.1 * cm, f"{page_word} {template.page}  {stamp}")
        canvas.restoreState()

    pdf = SimpleDocTemplate(out, pagesize=A4, leftMargin=1.8 * cm, rightMargin=1.8 * cm, topMargin=1.6 * cm,
                            bottomMargin=1.8 * cm, title=doc.title, author=doc.office, subject=doc.period)
    pdf.build(flow, onFirstPage=decorate, onLaterPages=decorate)
