"""The figures of a period, counted in SQL (aggregates and batches, not whole tables in
memory): what the monthly report, the evaluation report and the digests are made of."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from flows.calendar import OfficeCalendar
from flows.ikm import Ikm, compute
from flows.workflow import Workflow
from storage.models import Case, CaseEvent, Deadline, Rating


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


def _grouped(session, column, where) -> dict:
    return {k or "-": n for k, n in session.execute(select(column, func.count()).where(*where).group_by(column))}


def figures(session: Session, workflow: Workflow, cal: OfficeCalendar, start: datetime, end: datetime) -> PeriodFigures:
    """Cases opened in [start, end), their follow-up, SLA compliance of the clocks that ended
    in the period, escalations and ratings given in it."""
    f = PeriodFigures(start, end)
    opened = (Case.created_at >= start, Case.created_at < end)
    f.by_kind = _grouped(session, Case.kind, opened)
    f.by_category = _grouped(session, Case.category, opened)
    f.by_channel = _grouped(session, Case.channel, opened)
    f.by_state = _grouped(session, Case.state, opened)
    f.total = sum(f.by_kind.values())

    # Follow-up: the first event that took the case into a follow-up state.
    followed = workflow.escalation.followed_up if workflow.escalation else \
        tuple(s for s, d in workflow.states.items() if d.final)
    period_cases = select(Case.id).where(*opened)
    first = (select(CaseEvent.case_id, func.min(CaseEvent.at).label("at"))
             .where(CaseEvent.to_state.in_(followed), CaseEvent.at < end,  # as it stood at the period's end
                    CaseEvent.case_id.in_(period_cases))
             .group_by(CaseEvent.case_id).subquery())
    days = []
    rows = session.execute(select(Case.created_at, first.c.at).join(first, first.c.case_id == Case.id)
                           .where(*opened).execution_options(yield_per=2000))
    for created, at in rows:
        days.append(cal.working_days_between(created, at))
    f.followed_up = len(days)
    f.avg_follow_up_days = sum(days) / len(days) if days else None

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
    f.ikm = compute([r for r in session.scalars(select(Rating.skm).where(*given, Rating.skm.is_not(None)))])

    weekly: dict = defaultdict(Counter)
    for created, state in session.execute(select(Case.created_at, Case.state).where(*opened)
                                          .execution_options(yield_per=5000)):
        local = cal.local(created).date()
        weekly[local - timedelta(days=local.weekday())][state] += 1
    f.weekly = dict(sorted(weekly.items()))
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
