"""The A4 PDF of a report Document (reportlab): the title, office and period on top, headed
tables that repeat their header on every page, notes under them, charts scaled into the
page, labelled blanks, the signature block, and the office, title, period and page number at
the foot of every page. Fonts: DejaVu Sans (every letter a typed name may hold), 8 pt and up."""
from __future__ import annotations

import io
from xml.sax.saxutils import escape

from bot.reports.document import KINDS, Blank, Chart, Document, Paragraph, Signature, Table, _unpack, number_text


def _numeric(kind: str) -> bool:
    return KINDS[kind][0] is not None and kind not in ("date", "datetime")


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
    from reportlab.platypus import (CondPageBreak, Image, KeepTogether, PageBreak, Paragraph as P,
                                    SimpleDocTemplate, Spacer, Table as T, TableStyle)

    regular, strong = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=11.5)
    cell_style = ParagraphStyle("cell", parent=body, fontSize=8, leading=10)
    number_style = ParagraphStyle("number", parent=cell_style, alignment=TA_RIGHT)
    head_style = ParagraphStyle("head", parent=cell_style, fontName=strong)
    head_number = ParagraphStyle("headnum", parent=head_style, alignment=TA_RIGHT)
    title_style = ParagraphStyle("title", parent=body, fontName=strong, fontSize=14, leading=18, spaceAfter=2)
    sub_style = ParagraphStyle("sub", parent=body, fontSize=10, leading=13)
    h2 = ParagraphStyle("h2", parent=body, fontName=strong, fontSize=10.5, leading=14, spaceBefore=10, spaceAfter=4,
                        keepWithNext=1)  # a heading never ends a page
    note_style = ParagraphStyle("note", parent=body, fontSize=8, leading=10, textColor=colors.HexColor("#444444"))

    def text(value) -> str:
        return escape(str(value)).replace("\n", "<br/>")

    width = A4[0] - 3.6 * cm
    flow = [P(text(doc.title), title_style), P(text(doc.office), sub_style),
            P(text(doc.period), sub_style), Spacer(1, 0.3 * cm)]
    def signature(sig: Signature) -> list:
        sign = [P(text(sig.place_date), body), P(text(sig.role), body), Spacer(1, 1.8 * cm),
                P(f"<u>{text(sig.name)}</u>" if sig.name else "(" + "_" * 30 + ")", body)]
        if sig.note:
            sign.append(P(text(sig.note), body))
        block = T([["", sign]], colWidths=[width * 0.55, width * 0.45])
        block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return [Spacer(1, 0.8 * cm), KeepTogether([block])]

    for block in doc.blocks:
        if isinstance(block, Paragraph):
            if block.new_page:
                flow.append(PageBreak())
            flow.append(P(text(block.text), h2 if block.heading else body))
        elif isinstance(block, Signature):
            flow += signature(block)
        elif isinstance(block, Blank):
            ruled = T([[""]] * block.lines, colWidths=[width], rowHeights=[0.75 * cm] * block.lines)
            ruled.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.HexColor("#8a99a8"))]))
            flow.append(KeepTogether([Spacer(1, 6), P(text(block.label), note_style), ruled, Spacer(1, 4)]))
        elif isinstance(block, Chart):
            from reportlab.lib.utils import ImageReader

            w, h = ImageReader(io.BytesIO(block.png)).getSize()
            shown = min(block.width_cm * cm, width)
            flow.append(KeepTogether([P(text(block.title), h2),
                                      Image(io.BytesIO(block.png), width=shown, height=shown * h / w)]))
        elif isinstance(block, Table):
            body_rows = block.rows
            cut = block.print_limit is not None and len(body_rows) > block.print_limit
            if cut:
                body_rows = body_rows[:block.print_limit]
            shown = [i for i, c in enumerate(block.columns) if c.pdf]  # a sheet may hold more than a page
            columns = [block.columns[i] for i in shown]
            header = [P(text(c.title), head_number if _numeric(c.kind) else head_style) for c in columns]
            rows = [[P(text(number_text(row[i], c.kind, doc.lang)),
                       number_style if _numeric(_unpack(row[i], c.kind)[1]) else cell_style)
                     for i, c in zip(shown, columns)]
                    for row in body_rows + ([block.total] if block.total else [])]
            if not rows:
                rows = [[P(text(block.empty), cell_style)] + [""] * (len(columns) - 1)]
            weights = sum(c.width for c in columns)
            table = T([header] + rows, colWidths=[width * c.width / weights for c in columns], repeatRows=1)
            style = [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#8a99a8")),
                     ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
                     ("VALIGN", (0, 0), (-1, -1), "TOP"),
                     ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                     ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4)]
            style += [("BACKGROUND", (0, i), (-1, i), colors.HexColor("#f4f6f8")) for i in range(2, len(rows) + 1, 2)]
            if block.total:
                style.append(("LINEABOVE", (0, -1), (-1, -1), 1, colors.black))
            if not block.rows:
                style.append(("SPAN", (0, 1), (-1, 1)))
            table.setStyle(TableStyle(style))
            flow += [CondPageBreak(3 * cm), P(text(block.title), h2), table]
            note = " ".join(filter(None, [block.note, block.cut_note if cut else ""]))
            if note:
                flow += [Spacer(1, 2), P(text(note), note_style)]
    if doc.signature:
        flow += signature(doc.signature)

    from reportlab.pdfbase.pdfmetrics import stringWidth

    stamp = f"{doc.generated:%Y-%m-%d %H:%M}" if doc.generated else ""
    page_word = "Halaman" if doc.lang == "id" else "Page"
    room = width - 3 * cm  # the page number's corner stays clear

    def fit(line: str) -> str:
        while stringWidth(line, regular, 7.5) > room and len(line) > 1:
            line = line[:-2] + "…"
        return line

    footer = [fit(f"{doc.office} · {doc.title}"), fit(doc.period)]

    def decorate(canvas, template):
        canvas.saveState()
        canvas.setFont(regular, 7.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(1.8 * cm, 1.2 * cm, footer[0])
        canvas.drawString(1.8 * cm, 0.85 * cm, footer[1])
        canvas.drawRightString(A4[0] - 1.8 * cm, 1.2 * cm, f"{page_word} {template.page}")
        canvas.drawRightString(A4[0] - 1.8 * cm, 0.85 * cm, stamp)
        canvas.restoreState()

    pdf = SimpleDocTemplate(out, pagesize=A4, leftMargin=1.8 * cm, rightMargin=1.8 * cm, topMargin=1.6 * cm,
                            bottomMargin=1.8 * cm, title=doc.title, author=doc.office, subject=doc.period)
    pdf.build(flow, onFirstPage=decorate, onLaterPages=decorate)
