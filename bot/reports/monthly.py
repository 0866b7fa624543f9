"""The monthly report an office head signs: what KemenPAN-RB and Kemendagri evaluate (the
follow-up rate and the average follow-up time, with their definitions), the breakdowns, the
per-unit table, SLA compliance per stage in workflow order, escalations, ratings and IKM,
two charts, a signature block, and the list of cases with their SP4N-LAPOR! ids (seed 000
step 6). One Document (bot.reports.document), written as csv, xlsx or an A4 PDF."""
from __future__ import annotations

from datetime import date, datetime, time

from babel.dates import format_date

from bot.reports import blocks, rollup
from bot.reports.charts import sla_chart, weekly_chart
from bot.reports.document import Chart, Column, Document, Paragraph, Table, write as write_document
from bot.reports.words import Words
from flows.calendar import zone_abbreviation
from storage.reporting import case_rows, escalated, figures
from storage.units import list_units

PDF_CASE_LIMIT = 3000  # a printed list longer than this is not read; the xlsx has every case


def month_bounds(cal, month: str) -> tuple[datetime, datetime]:
    year, mon = (int(p) for p in month.split("-"))
    start = datetime.combine(date(year, mon, 1), time.min, cal.tz)
    nxt = date(year + (mon == 12), mon % 12 + 1, 1)
    return start, datetime.combine(nxt, time.min, cal.tz)


def last_full_month(cal, now: datetime) -> str:
    """The month before the office's current one: the last month that has ended."""
    today = cal.local(now).date()
    year, mon = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{mon:02d}"


def chart_texts(w: Words) -> dict:
    return {k: w(f"chart.{k}") for k in ("weekly", "weekly_y", "weekly_x", "sla", "sla_x", "no_data")}


def charts(w: Words, f) -> list[Chart]:
    labels = {s: w.state(s) for s in w.workflow.states}
    order = w.workflow.ordered_states()
    week = (lambda d: format_date(d, "d MMM", locale=w.lang))  # noqa: E731
    texts = {**chart_texts(w), "weekly": "", "sla": ""}  # the block's heading is the title
    return [Chart(w("chart.weekly"), weekly_chart(f, labels, order, texts, week)),
            Chart(w("chart.sla"), sla_chart(f, labels, blocks.office_stages(w.workflow), texts))]


def case_table(w: Words, session, f) -> Table:
    cal = w.calendar
    rows = [[ticket, cal.local(created), w.kind(kind), w.category(category), w.channel(channel), w.state(state),
             lapor or "", w.unit_code(unit)]
            for _, ticket, created, kind, category, channel, state, lapor, unit in case_rows(session, f.start, f.end)]
    columns = [Column(w("col.ticket"), width=3.0), Column(w("col.received"), "datetime", width=2.2),
               Column(w("col.kind"), width=2.2), Column(w("col.category"), width=2.7),
               Column(w("col.channel"), pdf=False), Column(w("col.state"), width=2.6),
               Column(w("col.lapor"), width=2.5), Column(w("col.unit"), width=2.0)]
    return Table(w("cases.title"), columns, rows, note=w("cases.note", zone=zone_abbreviation(cal.timezone_name)),
                 sheet=w("sheet.cases"), empty=w("cases.none"), print_limit=PDF_CASE_LIMIT,
                 cut_note=w("cases.cut", shown=PDF_CASE_LIMIT, total=len(rows)))


def build(runtime, month: str, lang: str = "id", with_children: bool = False) -> tuple[Document, object]:
    """The report of `month` (YYYY-MM) as a Document, and its figures. `with_children`: a
    table of the offices under this one (bot.reports.rollup) after the office's own summary."""
    cal, office = runtime.calendar, runtime.settings.office
    start, end = month_bounds(cal, month)
    now = runtime.clock()
    as_of = max(start, min(end, now))
    with runtime.sessions() as s:
        f = figures(s, runtime.workflow, cal, start, end, as_of)
        w = Words(runtime, lang, {u.id: u for u in list_units(s)})
        esc = escalated(s, start, end)
        cases = case_table(w, s, f)
    after = runtime.workflow.escalation.after if runtime.workflow.escalation else None
    doc = Document(w("monthly.title"), office.name, w("monthly.period", month=w.month(start), span=w.span(start, end)),
                   lang=lang, generated=cal.local(now))
    doc.blocks = [blocks.summary(w, f), blocks.follow_up(w, f, as_of)]
    if with_children:
        doc.blocks.append(rollup.table(w, rollup.office_rows(runtime, month)))
    if (per_unit := blocks.units(w, f, as_of)) is not None:
        doc.blocks.append(per_unit)
    else:
        doc.blocks.append(Paragraph(w("units.no_units")))
    kinds, categories, channels, states = blocks.breakdowns(w, f)
    weekly, sla_picture = charts(w, f)
    doc.blocks += [kinds, categories, channels, states, weekly, blocks.sla(w, f, as_of), sla_picture,
                   blocks.escalations(w, esc, after), blocks.ratings(w, f),
                   blocks.signature(w, office, now),
                   Paragraph(w("cases.appendix"), heading=True, new_page=True), cases]
    return doc, f


def write(runtime, month: str, fmt: str, path: str, lang: str = "id", also: dict | None = None,
          with_children: bool = False) -> dict:
    """Write the report of `month` (YYYY-MM) as csv, xlsx or pdf (and in the formats of
    `also`, {format: path}, from the same figures); return the figures."""
    doc, f = build(runtime, month, lang, with_children)
    for each, where in {fmt: path, **(also or {})}.items():
        write_document(doc, each, where)
    return {"figures": f, "document": doc}
