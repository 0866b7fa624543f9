"""The follow-up figures of a period (flows.follow_up says what counts as what), counted in
SQL: per unit, how many of the period's cases were followed up, referred, rejected, closed
without a follow-up or are still open, the working days to the first answer and the open
cases' age so far, the citizen's waiting time left out of both.

Working days are counted per interval between the calendar's cuts (local midnights and
closing times), never per case: `working_days_between` reads the same of every instant in
an interval, so its first instant stands for all, and the database only counts how many
cases (or waiting spans) fall in each pair of intervals."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import DateTime, Integer, and_, case, func, literal, literal_column, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from flows.calendar import OfficeCalendar
from flows.follow_up import follow_up_states
from flows.workflow import Workflow
from storage.models import Case, CaseEvent, Deadline
from storage.types import UTCDateTime
from storage.visibility import late

JUST_BEFORE = timedelta(microseconds=1)


def interval(session: Session, column, cuts: list[datetime]):
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


def stands_for(cuts: list[datetime]) -> list[datetime]:
    """An instant of each interval (interval 0, before the first cut, included)."""
    return [cuts[0] - JUST_BEFORE] + cuts


@dataclass
class FollowUp:
    cases: int = 0
    referred: int = 0  # bukan wewenang: out of the denominator
    rejected: int = 0  # out of the denominator
    followed_up: int = 0
    ended: int = 0  # closed without a follow-up (archived as incomplete): not followed up
    open: int = 0  # not followed up yet at the period's end
    days: int = 0  # working days to the first answer, summed over the followed-up cases
    open_days: int = 0  # working days open so far, summed over the open cases
    overdue: int = 0  # cases with a clock of a unit's stage past its due time

    @property
    def counted(self) -> int:
        """The denominator: the period's cases but the referred and the rejected."""
        return self.cases - self.referred - self.rejected

    @property
    def not_followed_up(self) -> int:
        return self.ended + self.open

    @property
    def rate(self) -> float | None:
        return self.followed_up / self.counted if self.counted else None

    @property
    def avg_days(self) -> float | None:
        return self.days / self.followed_up if self.followed_up else None

    @property
    def open_avg_days(self) -> float | None:
        return self.open_days / self.open if self.open else None

    def add(self, other: "FollowUp") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class FollowUps:
    total: FollowUp = field(default_factory=FollowUp)
    units: dict = field(default_factory=dict)  # unit id (None: no unit) -> FollowUp


def unit_stages(workflow: Workflow) -> list[str]:
    """The stages a unit works in (a liaison or an officer acts there): its overdue count."""
    kinds = {r for r, d in workflow.roles.items() if d.kind in ("liaison", "officer")}
    return [s for s, d in workflow.states.items() if set(d.actors) & kinds and not d.pause_clock]


def opened_per_interval(session: Session, cal: OfficeCalendar, start: datetime, end: datetime,
                        keys=()) -> list:
    """The cases opened in [start, end) counted per (*keys, unit, opening interval)."""
    scan = select(*keys, Case.unit_id, interval(session, Case.created_at, cal.cuts(start, end)).label("o")).where(
        Case.created_at >= start, Case.created_at < end)
    if session.get_bind().dialect.name == "postgresql":
        # A fence: grouped by an expression of created_at, PostgreSQL expects one group per
        # row (created_at is unique) and sorts the million on disk; over the subquery's
        # column it hashes, in about half the time on bench/scale.py's million.
        scan = scan.offset(0)
    scan = scan.subquery()
    return session.execute(select(*scan.c, func.count()).group_by(*scan.c)).all()


def follow_ups(session: Session, workflow: Workflow, cal: OfficeCalendar, start: datetime, end: datetime,
               as_of: datetime | None = None, opened: dict | None = None) -> FollowUps:
    """The follow-up of the cases opened in [start, end), as it stood at `as_of` (the period's
    end, or an earlier now while the period runs). `opened`: {(unit, opening interval): cases}
    when the caller has counted them already (storage.reporting's one scan)."""
    as_of = max(start, min(end, as_of or end))
    states = follow_up_states(workflow)
    cuts = cal.cuts(start, end)
    instant = stands_for(cuts)
    so_far = as_of - JUST_BEFORE  # "up to now", not counting the day the period ends at
    if opened is None:
        opened = {(u, o): n for u, o, n in opened_per_interval(session, cal, start, end)}

    @cache  # units share their pairs of intervals
    def days(since: int, until: int | None) -> int:
        return cal.working_days_between(instant[since], so_far if until is None else instant[until])

    out = FollowUps()

    def unit(u) -> FollowUp:
        return out.units.setdefault(u, FollowUp())

    # The cases with an answer or an end by as_of (their events lie in [start, as_of): none
    # comes before its case opened): the first answer, and one rank for the rest: referred 1,
    # rejected 2, otherwise ended (the answer wins over any rank). The others are open. Only
    # the columns of ix_case_events_to_state, so PostgreSQL reads the index alone; two
    # aggregates, since grouping the month's cases is most of the report's time.
    ev = CaseEvent
    in_period = (Case.created_at >= start, Case.created_at < end)
    rank = case((ev.to_state.in_(states.referred or ("",)), 1), (ev.to_state.in_(states.rejected or ("",)), 2),
                else_=3)
    marks = (select(Case.unit_id, Case.created_at,
                    func.min(ev.at).filter(ev.to_state.in_(states.followed_up)).label("answered"),
                    func.min(rank).label("rank"))
             .join(ev, ev.case_id == Case.id)
             .where(*in_period, ev.to_state.in_(states.settling), ev.at >= start, ev.at < as_of)
             .group_by(Case.id).subquery())  # unit and opening depend on the key: a narrower sort
    kind = case((marks.c.answered.is_not(None), "followed_up"), (marks.c.rank == 1, "referred"),
                (marks.c.rank == 2, "rejected"), else_="ended")
    pairs = select(marks.c.unit_id, kind.label("kind"), interval(session, marks.c.created_at, cuts).label("o"),
                   case((marks.c.answered.is_(None), -1), else_=interval(session, marks.c.answered, cuts))
                   .label("a")).subquery()
    still_open = dict(opened)
    for u, what, opened_in, answered_in, n in session.execute(select(*pairs.c, func.count()).group_by(*pairs.c)):
        row = unit(u)
        row.cases += n
        setattr(row, what, getattr(row, what) + n)
        still_open[u, opened_in] = still_open.get((u, opened_in), 0) - n  # one opened meanwhile: 0
        if what == "followed_up":
            row.days += days(opened_in, answered_in) * n

    # An erasure closes an open case (storage.privacy) in a final state that may count as
    # followed up: where it was the case's first entry there, the case ended unanswered. Rare:
    # each one is read.
    earlier = aliased(CaseEvent)
    erased = (select(Case.unit_id, Case.created_at, ev.at).join(ev, ev.case_id == Case.id)
              .where(*in_period, ev.to_state.in_(states.final_followed_up or ("",)),
                     ev.action == "erase", ev.at >= start, ev.at < as_of,
                     ~select(earlier.id).where(earlier.case_id == ev.case_id, earlier.id < ev.id,
                                               earlier.to_state.in_(states.followed_up)).exists()))
    for u, created, at in session.execute(erased):
        row = unit(u)
        row.followed_up -= 1
        row.days -= cal.working_days_between(created, at)
        row.ended += 1
    for (u, opened_in), n in still_open.items():
        if n <= 0:
            continue
        row = unit(u)
        row.cases += n
        row.open += n
        row.open_days += days(opened_in, None) * n

    # The citizen's waiting: each entry into a paused state up to the next move out of it,
    # cut at the first answer (or at as_of for a case still open). The spans of one case do
    # not overlap and lie inside its own time, so their working days subtract exactly. Few
    # cases wait on their citizen: each span is read, with its case's answer looked up.
    if states.waiting:
        leave, later = aliased(CaseEvent), aliased(CaseEvent)
        spans = (select(ev.case_id, ev.at.label("began"), func.min(leave.at).label("left"))
                 .select_from(ev).outerjoin(leave, and_(leave.case_id == ev.case_id, leave.from_state == ev.to_state,
                                                        leave.id > ev.id))
                 .where(ev.to_state.in_(states.waiting), ev.at >= start, ev.at < as_of)
                 .group_by(ev.id, ev.case_id, ev.at).subquery())
        first_answer = (select(func.min(later.at)).where(
            later.case_id == spans.c.case_id, later.to_state.in_(states.followed_up), later.action != "erase",
            later.at < as_of).scalar_subquery())  # (not the erasure's end)
        ended = (select(later.id).where(later.case_id == spans.c.case_id, later.to_state.in_(states.settling),
                                        later.at < as_of).exists())
        per_span = (select(Case.unit_id, spans.c.began, spans.c.left, first_answer.label("answered"))
                    .select_from(spans).join(Case, Case.id == spans.c.case_id)
                    .where(*in_period, or_(first_answer.is_not(None), ~ended))).subquery()  # followed up, or open
        for u, began, left, answered in session.execute(select(per_span).where(
                per_span.c.began < func.coalesce(per_span.c.answered, literal(as_of, UTCDateTime)))):
            cap = answered or so_far
            waited = cal.working_days_between(began, left if left is not None and left < cap else cap)
            if answered is not None:
                unit(u).days -= waited
            else:
                unit(u).open_days -= waited

    # Overdue at the units' own stages: a clock that ended late before as_of, or still runs
    # past its due time then (a paused clock waits on the citizen). Cases with a unit only.
    stages = unit_stages(workflow)
    if stages and workflow.assigns_units:
        ended_late = and_(Deadline.completed_at < as_of, Deadline.completed_at > Deadline.due_at)
        late_then = or_(ended_late, late(as_of))
        overdue = (select(Case.unit_id, func.count(func.distinct(Case.id))).join(Deadline, Deadline.case_id == Case.id)
                   .where(*in_period, Case.unit_id.is_not(None), Deadline.kind == "stage",
                          Deadline.stage.in_(stages), late_then).group_by(Case.unit_id))
        for u, n in session.execute(overdue):
            unit(u).overdue = n

    for row in out.units.values():
        out.total.add(row)
    return out
