"""The figures of a period, counted in SQL (aggregates and batches, not whole tables in
memory): what the monthly report, the evaluation report and the digests are made of."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from flows.calendar import OfficeCalendar
from flows.ikm import Ikm
from flows.workflow import Workflow
from storage.follow_up import FollowUps, follow_ups, opened_per_interval, stands_for
from storage.models import Case, Deadline, Rating
from storage.survey import period_ikm
from storage.visibility import STAGE, late


@dataclass
class PeriodFigures:
    start: datetime
    end: datetime  # exclusive
    total: int = 0
    by_kind: dict = field(default_factory=dict)
    by_category: dict = field(default_factory=dict)
    by_channel: dict = field(default_factory=dict)
    by_state: dict = field(default_factory=dict)
    follow_up: FollowUps = field(default_factory=FollowUps)  # in total and per unit
    sla: dict = field(default_factory=dict)  # stage -> (met, missed, open overdue)
    escalations: int = 0
    ratings: int = 0
    solved: int = 0
    avg_score: float | None = None
    ikm: Ikm | None = None
    weekly: dict = field(default_factory=dict)  # week start (date) -> {state: count}

    @property
    def followed_up(self) -> int:
        return self.follow_up.total.followed_up

    @property
    def follow_up_rate(self) -> float | None:
        """Followed up / (cases - referred - rejected): flows.follow_up says why."""
        return self.follow_up.total.rate

    @property
    def avg_follow_up_days(self) -> float | None:
        return self.follow_up.total.avg_days


def figures(session: Session, workflow: Workflow, cal: OfficeCalendar, start: datetime, end: datetime,
            as_of: datetime | None = None) -> PeriodFigures:
    """Cases opened in [start, end), their follow-up as it stood at `as_of` (the period's end,
    or an earlier now while the period runs), SLA compliance of the clocks that ended in the
    period, escalations and ratings given in it."""
    f = PeriodFigures(start, end)
    as_of = max(start, min(end, as_of or end))
    # One scan for the four breakdowns, the weekly counts and the follow-up's opening counts:
    # cases per (kind, category, channel, state, unit, interval between the calendar's cuts);
    # local midnights are cuts, so each interval lies in one local week.
    by, weekly, per_unit = [Counter() for _ in range(4)], defaultdict(Counter), Counter()
    instant = stands_for(cal.cuts(start, end))
    keys = (Case.kind, Case.category, Case.channel, Case.state)
    for kind, category, channel, state, unit, opened_in, n in opened_per_interval(session, cal, start, end, keys):
        for counter, value in zip(by, (kind, category, channel, state)):
            counter[value or "-"] += n
        day = cal.local(max(instant[opened_in], start)).date()
        weekly[day - timedelta(days=day.weekday())][state] += n
        per_unit[unit, opened_in] += n
    f.by_kind, f.by_category, f.by_channel, f.by_state = (dict(c) for c in by)
    f.weekly = {week: dict(counts) for week, counts in sorted(weekly.items())}
    f.total = sum(f.by_kind.values())
    f.follow_up = follow_ups(session, workflow, cal, start, end, as_of, per_unit)

    # SLA compliance per stage: clocks that stopped in the period, met or missed, and
    # clocks still running past their due time at the period's end (or now). Only the office's
    # own stages: time the case waits on the citizen is not the office being late.
    citizen_waits = [s for s, d in workflow.states.items() if d.pause_clock or set(d.actors) == {"citizen"}]
    ended = select(Deadline.stage, Deadline.completed_at <= Deadline.due_at, func.count()).where(
        Deadline.kind == "stage", Deadline.completed_at >= start, Deadline.completed_at < end,
        Deadline.stage.not_in(citizen_waits)
    ).group_by(Deadline.stage, Deadline.completed_at <= Deadline.due_at)
    sla = defaultdict(lambda: [0, 0, 0])
    for stage, met, n in session.execute(ended):
        sla[stage][0 if met else 1] += n
    overdue = select(Deadline.stage, func.count()).where(
        Deadline.kind == STAGE, late(as_of), Deadline.stage.not_in(citizen_waits)).group_by(Deadline.stage)
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
                                       Case.channel, Case.state, Case.lapor_tracking_id, Case.unit_id)
                                .where(Case.created_at >= start, Case.created_at < end, Case.id > last)
                                .order_by(Case.id).limit(2000)).all()
        if not batch:
            return
        yield from batch
        last = batch[-1][0]


def escalated(session: Session, start: datetime, end: datetime, limit: int = 500) -> list:
    """The cases escalated in [start, end): (ticket, opened, escalated, state), oldest first."""
    return session.execute(select(Case.ticket, Case.created_at, Case.escalated_at, Case.state).where(
        Case.escalated_at >= start, Case.escalated_at < end).order_by(Case.escalated_at, Case.id).limit(limit)).all()


def counts_since(session: Session, since: datetime, now: datetime) -> dict:
    """For the weekly digest: cases by state now, breaches and ratings since `since`."""
    by_state = dict(session.execute(select(Case.state, func.count()).group_by(Case.state)).all())
    breaches = session.scalar(select(func.count()).select_from(Deadline).where(  # a duty's are listed apart
        and_(Deadline.breached_at >= since, Deadline.breached_at < now, Deadline.kind != "duty")))
    ratings, avg = session.execute(select(func.count(), func.avg(Rating.score)).where(
        Rating.created_at >= since, Rating.created_at < now)).one()
    return {"by_state": by_state, "breaches": breaches, "ratings": ratings,
            "avg_score": float(avg) if avg is not None else None}
