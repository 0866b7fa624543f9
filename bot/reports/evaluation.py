"""The yearly evaluation report of seed 003 (BAB VII): "Hasil dari Evaluasi Kinerja
Penyelenggaraan Pelayanan dituangkan dalam laporan hasil evaluasi yang memuat: a. Tujuan;
b. Sasaran; c. Ruang lingkup; d. Waktu; e. Pelaksana; f. Periode; g. Hasil evaluasi; dan
h. Saran perbaikan." The data's part is filled in (scope, time, implementers, period, the
year's figures with the monthly report's definitions); the person's part is a labelled
blank. One Document: an A4 PDF by default, or xlsx/csv."""
from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import func, select

from bot.reports import blocks
from bot.reports.charts import sla_chart
from bot.reports.document import Blank, Chart, Document, Paragraph, write as write_document
from bot.reports.monthly import chart_texts
from bot.reports.words import Words
from storage.models import Officer
from storage.reporting import figures
from storage.units import list_units


def year_bounds(cal, year: int) -> tuple[datetime, datetime]:
    return (datetime.combine(date(year, 1, 1), time.min, cal.tz),
            datetime.combine(date(year + 1, 1, 1), time.min, cal.tz))


def build(runtime, year: int, lang: str = "id") -> tuple[Document, object]:
    cal, wf, office = runtime.calendar, runtime.workflow, runtime.settings.office
    start, end = year_bounds(cal, year)
    now = runtime.clock()
    as_of = max(start, min(end, now))
    with runtime.sessions() as s:
        f = figures(s, wf, cal, start, end, as_of)
        officers = s.scalar(select(func.count()).select_from(Officer).where(Officer.active.is_(True)))
        w = Words(runtime, lang, {u.id: u for u in list_units(s)})
    services = ", ".join(w.category(c) for c in w.categories) or w("eval.all_services")
    labels = {st: w.state(st) for st in wf.states}
    doc = Document(w("eval.title"), office.name, w("eval.period", year=year, span=w.span(start, end)),
                   lang=lang, generated=cal.local(now))
    doc.blocks = [
        Paragraph(w("eval.intro")),
        Paragraph(w("eval.a"), heading=True), Blank(w("eval.blank.a")),
        Paragraph(w("eval.b"), heading=True), Blank(w("eval.blank.b")),
        Paragraph(w("eval.c"), heading=True),
        Paragraph(w("eval.scope", workflow=wf.workflow.label_en if lang == "en" else wf.workflow.label_id,
                    services=services)),
        Paragraph(w("eval.d"), heading=True), Paragraph(w("eval.time", date=w.day(now))),
        Blank(w("eval.blank.d"), lines=2),
        Paragraph(w("eval.e"), heading=True), Paragraph(w("eval.implementers", office=office.name, officers=officers)),
        Blank(w("eval.blank.e")),
        Paragraph(w("eval.f"), heading=True), Paragraph(w.span(start, end)),
        Paragraph(w("eval.g"), heading=True), Paragraph(w("eval.results", year=year)),
        blocks.summary(w, f), blocks.follow_up(w, f, as_of)]
    if (per_unit := blocks.units(w, f, as_of)) is not None:
        doc.blocks.append(per_unit)
    kinds, categories, _, _ = blocks.breakdowns(w, f)
    doc.blocks += [kinds, categories, blocks.sla(w, f, as_of),
                   Chart(w("chart.sla"), sla_chart(f, labels, blocks.office_stages(wf),
                                                   {**chart_texts(w), "sla": ""})),
                   blocks.ratings(w, f), Blank(w("eval.blank.g"), lines=6),
                   Paragraph(w("eval.h"), heading=True), Blank(w("eval.blank.h"), lines=6)]
    doc.signature = blocks.signature(w, office, now)
    return doc, f


def write(runtime, year: int, path: str, fmt: str = "pdf", lang: str = "id") -> dict:
    doc, f = build(runtime, year, lang)
    write_document(doc, fmt, path)
    return {"figures": f, "document": doc}
