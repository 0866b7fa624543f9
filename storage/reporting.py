"""The figures of a period, counted in SQL (aggregates and batches, not whole tables in
memory): what the monthly report, the evaluation report and the digests are made of."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Integer, and_, case, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from flows.calendar import OfficeCalendar
from flows.ikm import Ikm
from flows.workflow import Workflow
from storage.models import Case, CaseEvent, Deadline, Rating
from storage.survey import period_ikm


@dataclass
class PeriodFigures:
    start: datetime
    end: datetime  # exclusive
    total: int = 0
    by_kind: dict = field(default_factory=dict)
    by_category: dict = field(default_factory=dict)
    by_channel: dict = field(default_factory=dict)
    by_state: dict = field(default_factory=dict)
    followed_up: int = 0
    avg_follow_up_days: float | None = None
    sla: dict = field(default_factory=dict)  # stage -> (met, missed, open overdue)
    escalations: int = 0
    ratings: int = 0
    solved: int = 0
    avg_score: float | None = None
    ikm: Ikm | None = None
    weekly: dict = field(default_factory=dict)  # week start (date) -> {state: count}

    @property
    def follow_up_rate(self) -> float | None:
        return self.followed_up / self.total if self.total else None


def _interval(session: Session, column, cuts: list[datetime]):
    """How many of `cuts` (sorted UTC instants) are at or before `column`: the interval it falls
    in. Plain comparisons with instants the calendar computed, so exact in any zone (summer time
    included) and cheap: PostgreSQL bisects an array (width_bucket, a tenth of what timezone()
    costs a row); SQLite, which has no time zones, runs a balanced CASE doing the same."""
    if session.get_bind().dialect.name == "postgresql":
        return func.width_bucket(column, literal(cuts, ARRAY(DateTime(timezone=True))))

    def bisect(lo: int, hi: int):  # the answer is in [lo, hi]
        if lo == hi:
            return literal_column(str(lo), Integer)
        mid = (lo + hi + 1) // 2
        return case((column < cuts[mid - 1], bisect(lo, mid - 1)), else_=bisect(mid, hi))
    return bisect(0, len(cuts))


def figures(session: Session, workflow: Workflow, cal: OfficeCalendar, start: datetime, end: datetime) -> PeriodFigures:
    """Cases opened in [start, end), their follow-up, SLA compliance of the clocks that ended
    in the period, escalations and ratings given in it."""
    f = PeriodFigures(start, end)
    opened = (Case.created_at >= start, Case.created_at < end)
    # One scan for the four breakdowns (a few hundred (kind, category, channel, state) groups)
    # and the weekly counts: per group, how many opened before each local Monday's midnight.
    # Not a GROUP BY on the week: PostgreSQL takes any expression of created_at for one group
    # per row and plans a single-process sort.
    by, weekly = [Counter() for _ in range(4)], defaultdict(Counter)
    weeks = cal.weeks(start, end)
    keys = (Case.kind, Case.category, Case.channel, Case.state)
    before = [func.count().filter(Case.created_at < begins) for _, begins in weeks[1:]]
    for kind, category, channel, state, n, *earlier in session.execute(
            select(*keys, func.count(), *before).where(*opened).group_by(*keys)):
        for counter, value in zip(by, (kind, category, channel, state)):
            counter[value or "-"] += n
        counts = [0, *earlier, n]  # opened before each week began, and in all
        for (monday, _), lo, hi in zip(weeks, counts, counts[1:]):
            if hi > lo:
                weekly[monday][state] += hi - lo
    f.by_kind, f.by_category, f.by_channel, f.by_state = (dict(c) for c in by)
    f.weekly = dict(sorted(weekly.items()))
    f.total = sum(f.by_kind.values())

    # Follow-up days are counted per interval between the calendar's cuts (local midnights and
    # closing times), not per case: working_days_between reads the same of every instant in an
    # interval, so its first instant stands for all. Interval 0, before the period's first day,
    # holds only follow-ups dated before their case was opened: 0 days, as for any earlier day.
    cuts = cal.cuts(start, end)
    stands_for = [cuts[0] - timedelta(microseconds=1)] + cuts

    # Follow-up: the first event that took the case into a follow-up state, as it stood at the
    # period's end; counted per (opening interval, follow-up interval).
    followed = workflow.escalation.followed_up if workflow.escalation else \
        tuple(s for s, d in workflow.states.items() if d.final)
    first = (select(Case.created_at, func.min(CaseEvent.at).label("at"))
             .join(CaseEvent, CaseEvent.case_id == Case.id)
             .where(*opened, CaseEvent.to_state.in_(followed), CaseEvent.at < end)
             .group_by(Case.id, Case.created_at).subquery())
    pairs = select(_interval(session, first.c.created_at, cuts).label("opened"),
                   _interval(session, first.c.at, cuts).label("followed")).subquery()
    days = 0
    for opened_in, followed_in, n in session.execute(
            select(pairs.c.opened, pairs.c.followed, func.count()).group_by(pairs.c.opened, pairs.c.followed)):
        days += cal.working_days_between(stands_for[opened_in], stands_for[followed_in]) * n
        f.followed_up += n
    f.avg_follow_up_days = days / f.followed_up if f.followed_up else None

    # SLA compliance per stage: clocks that stopped in the period, met or missed, and
    # clocks still running past their due time at the period's end. Only the office's own
    # stages: time the case waits on the citizen is not the office being late.
    citizen_waits = [s for s, d in workflow.states.items() if d.pause_clock or set(d.actors) == {"citizen"}]
    ended = select(Deadline.stage, Deadline.completed_at <= Deadline.due_at, func.count()).where(
        Deadline.kind == "stage", Deadline.completed_at >= start, Deadline.completed_at < end,
        Deadline.stage.not_in(citizen_waits)
    ).group_by(Deadline.stage, Deadline.completed_at <= Deadline.due_at)
    sla = defaultdict(lambda: [0, 0, 0])
    for stage, met, n in session.execute(ended):
        sla[stage][0 if met else 1] += n
    overdue = select(Deadline.stage, func.count()).where(
        Deadline.kind == "stage", Deadline.due_at < end, Deadline.paused_at.is_(None),
        Deadline.stage.not_in(citizen_waits),
        (Deadline.completed_at.is_(None)) | (Deadline.completed_at >= end)).group_by(Deadline.stage)
    for stage, n in session.execute(overdue):
        sla[stage][2] += n
    f.sla = {k: tuple(v) for k, v in sorted(sla.items())}

    f.escalations = session.scalar(select(func.count()).select_from(Case).where(
        Case.escalated_at >= start, Case.escalated_at < end))
    given = (Rating.created_at >= start, Rating.created_at < end)
    f.ratings, f.solved, avg = session.execute(select(
        func.count(), func.count().filter(Rating.solved.is_(True)), func.avg(Rating.score)).where(*given)).one()
    f.avg_score = float(avg) if avg is not None else None
    f.ikm = period_ikm(session, start, end)  # every SKM response of the period (storage.survey)
    return f


def case_rows(session: Session, start: datetime, end: datetime):
    """The period's cases for the SP4N-LAPOR! bookkeeping, streamed in id order."""
    last = 0
    while True:
        batch = session.execute(select(Case.id, Case.ticket, Case.created_at, Case.kind, Case.category,
                                       Case.channel, Case.state, Case.lapor_tracking_id)
                                .where(Case.created_at >= start, Case.created_at < end, Case.id > last)
                                .order_by(Case.id).limit(2000)).all()
        if not batch:
            return
        yield from batch
        last = batch[-1][0]


def counts_since(session: Session, since: datetime, now: datetime) -> dict:
    """For the weekly digest: cases by state now, breaches and ratings since `since`."""
    by_state = dict(session.execute(select(Case.state, func.count()).group_by(Case.state)).all())
    breaches = session.scalar(select(func.count()).select_from(Deadline).where(
        and_(Deadline.breached_at >= since, Deadline.breached_at < now)))
    ratings, avg = session.execute(select(func.count(), func.avg(Rating.score)).where(
        Rating.created_at >= since, Rating.created_at < now)).one()
    return {"by_state": by_state, "breaches": breaches, "ratings": ratings,
            "avg_score": float(avg) if avg is not None else None}
