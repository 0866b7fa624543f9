"""The month's reports as an SP4N-LAPOR! admin enters them into LAPOR! (there is no API):
csv (one header row, then a row per report) or xlsx (the report model of
bot/reports/document.py: dates as dates, the office and period above the table).

Columns: our ticket, arrival and LAPOR!'s tracking id first (empty: enter the report;
filled: update it), then LAPOR!'s form in its order (classification, title, content,
date and place of the incident, agency, category, attachments, anonymous, confidential,
the reporter), then what the admin sets afterwards (status, disposition, follow-up).
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from babel.dates import format_date

from bot.reports.cells import cell
from bot.reports.document import Column, Document, Table, csv_cell, write_xlsx
from bot.reports.monthly import month_bounds
from flows import lapor
from flows.case_fields import LABELS, Privacy
from flows.i18n import t
from storage.lapor_export import LaporRecord, month_records

# (key, kind, relative width): the order of the file
COLUMNS = [("ticket", "text", 1.2), ("arrived", "datetime", 1.2), ("tracking", "text", 1.2),
           ("kind", "text", 1), ("title", "text", 2), ("text", "text", 4), ("incident", "date", 1),
           ("location", "text", 1.5), ("agency", "text", 1.5), ("category", "text", 1.2), ("files", "int", 0.7),
           ("anonim", "text", 0.6), ("rahasia", "text", 0.6), ("name", "text", 1.2), ("phone", "text", 1.2),
           ("email", "text", 1.5), ("status", "text", 1.2), ("unit", "text", 1.2), ("followed", "datetime", 1.2),
           ("answer", "text", 3)]
TITLE_MAX = 100


def title_of(text: str) -> str:
    """LAPOR!'s title is a summary the admin writes; offered: the text's first sentence."""
    first = re.split(r"(?<=[.!?])\s|\n", text.strip(), maxsplit=1)[0].strip()
    if len(first) <= TITLE_MAX:
        return first
    cut = first[:TITLE_MAX - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


@dataclass
class Words:
    """What the database stores as ids, in the file's language."""

    runtime: object
    lang: str

    def kind(self, value: str) -> str:
        pair = LABELS.get(value)  # keyed by the enum, which is its string
        if pair is None:
            return value
        return pair[0] if self.lang == "id" else f"{pair[1]} ({pair[0]})"  # LAPOR!'s word for the en reader

    def category(self, value: str | None) -> str:
        for c in self.runtime.cases.categories:
            if c.id == value:
                return c.label_id if self.lang == "id" else c.label_en
        return value or ""

    def status(self, r: LaporRecord) -> str:
        wf = self.runtime.cases.workflow_of(r)  # the case's own workflow, as it was opened
        return lapor.label(lapor.status_of(wf, r.state), self.lang)

    def yes(self, flag: bool) -> str:
        return t(self.lang, "lapor.yes" if flag else "lapor.no")


def row_of(r: LaporRecord, words: Words, agency: str) -> list:
    cal, lang = words.runtime.calendar, words.lang
    naive = lambda at: cal.local(at).replace(tzinfo=None) if at else None  # noqa: E731 (xlsx has no zones)
    text = t(lang, "lapor.erased") if r.anonymised else r.text
    where = r.location.replace(",", ", ") if r.location else None
    return [r.ticket, naive(r.arrived_at), r.tracking_id or "", words.kind(r.kind),
            "" if r.anonymised else title_of(r.text), text, None,
            t(lang, "lapor.location", where=where) if where else "", agency, words.category(r.category), r.files,
            words.yes(r.privacy == Privacy.ANONIM), words.yes(r.privacy == Privacy.RAHASIA),
            r.name or "", r.phone or "", r.email or "", words.status(r), r.unit or "", naive(r.followed_up_at),
            r.answer or ""]




def write(runtime, month: str, fmt: str, out, lang: str = "id") -> dict:
    """Write `month` (YYYY-MM) as csv or xlsx to a binary file; return counts for the CLI."""
    cal, words = runtime.calendar, Words(runtime, lang)
    start, end = month_bounds(cal, month)
    agency = runtime.settings.office.name
    header = [t(lang, f"lapor.col.{key}") for key, _, _ in COLUMNS]
    counts = {"rows": 0, "new": 0, "without_id": 0}
    if fmt == "csv":  # streamed: a row is written as it is read
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text)
        writer.writerow([cell(h) for h in header])
    rows = []
    with runtime.sessions() as s:
        for r in month_records(s, runtime.workflow, start, end):
            counts["rows"] += 1
            counts["new"] += r.arrived_in_month
            counts["without_id"] += not r.tracking_id
            values = row_of(r, words, agency)
            if fmt == "csv":
                writer.writerow([csv_cell(v, kind) for v, (_, kind, _) in zip(values, COLUMNS)])
            else:
                rows.append(values)
    if fmt == "csv":
        text.detach()  # the caller's file stays open
        return counts
    made = cal.local(runtime.clock())
    name = format_date(start.date(), "MMMM yyyy", locale="id_ID" if lang == "id" else "en_GB")
    doc = Document(title=t(lang, "lapor.title"), office=agency, lang=lang, generated=made.replace(tzinfo=None),
                   period=t(lang, "lapor.period", month=name, made=f"{made:%Y-%m-%d %H:%M}"))
    doc.blocks.append(Table(title=name, sheet="SP4N-LAPOR!", rows=rows, note=t(lang, "lapor.note"),
                            columns=[Column(h, kind, width) for h, (_, kind, width) in zip(header, COLUMNS)]))
    write_xlsx(doc, out)
    return counts
