"""A parent office's roll-up (a province over its regencies): one row per office under it,
each counted as that office's own monthly report counts it (storage.reporting.figures, in
that office's sessions, on its workflow and calendar: its month in its own time zone), and
a total of the counts. Rates in the total are worked out from the summed counts, never
averaged from the offices' rates."""
from __future__ import annotations

from dataclasses import dataclass

from bot.reports.blocks import sla_totals
from bot.reports.document import Column, Table
from storage.follow_up import FollowUp
from storage.reporting import PeriodFigures, figures


@dataclass
class OfficeRow:
    code: str
    name: str
    figures: PeriodFigures

    @property
    def sla(self) -> tuple[int, int]:
        """(clocks on time, clocks counted), as the summary counts them."""
        return sla_totals(self.figures)


def children_of(runtime) -> list:
    """The offices directly under this one, in the order they were added."""
    return [o for o in runtime.deployment.offices() if o.parent_id == runtime.id]


def office_rows(runtime, month: str) -> list[OfficeRow]:
    from bot.reports.monthly import month_bounds

    rows = []
    for child in children_of(runtime):
        start, end = month_bounds(child.calendar, month)
        with child.sessions() as s:
            f = figures(s, child.workflow, child.calendar, start, end, child.clock())
        rows.append(OfficeRow(child.code, child.settings.office.name, f))
    return rows


def table(w, rows: list[OfficeRow]) -> Table:
    total, met, clocks = FollowUp(), 0, 0
    body = []
    for r in rows:
        t = r.figures.follow_up.total
        total.add(t)
        m, c = r.sla
        met, clocks = met + m, clocks + c
        body.append([f"{r.name} ({r.code})", t.cases, t.followed_up, t.rate, m / c if c else None, t.avg_days])
    columns = [Column(w("col.office"), width=5.2), Column(w("col.cases"), "int", width=1.7),
               Column(w("col.followed"), "int", width=2.9), Column(w("col.rate"), "pct", width=2.1),
               Column(w("col.on_time_rate"), "pct", width=2.1), Column(w("col.days_avg"), "dec1", width=2.5)]
    return Table(w("offices.title"), columns, body, note=w("offices.note"), empty=w("offices.none"),
                 total=[w("total"), total.cases, total.followed_up, total.rate, met / clocks if clocks else None,
                        total.avg_days] if body else None)
