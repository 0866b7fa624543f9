"""Periodic duties in the database: each (duty, period) opened once, its clock a deadline
row of kind "duty" (so the scheduler's reminders and breaches carry it), marked done once.

Which periods open (flows.duties says when a period's duty opens):
- every period since the newest one the scheduler opened, up to the latest that has ended
  and whose opening time has come: a scheduler that was down catches up, one row per
  period; a period recorded done by hand is skipped, the ones around it still open;
- a duty with no row yet (a new installation, a duty new in the workflow) starts with the
  latest ended period only if it is not already past due: what fell due before Aduan ran
  is not announced as overdue; `aduan report duties --done` records it if wanted.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from flows import duties as periods
from flows.calendar import OfficeCalendar
from flows.duties import PeriodicDef
from flows.workflow import Workflow
from storage.db import upsert_insert
from storage.scoping import office_of
from storage.deadlines import clock_of, refresh
from storage.models import Deadline
from storage.models_duties import Duty

CATCH_UP = 24  # periods at most, after a long stop


@dataclass(frozen=True)
class DoneBy:
    name: str | None
    officer_id: int | None = None
    via: str = "chat"  # chat | web | cli


def due_periods(session: Session, p: PeriodicDef, cal: OfficeCalendar, now: datetime) -> list[str]:
    """The periods of `p` to open now, oldest first."""
    latest = periods.latest_ended(p.every, cal.local(now).date())
    while periods.opening(cal, p.every, latest) > now:  # e.g. 1 May, a holiday: April opens on the 2nd
        latest = periods.preceding(p.every, latest)
    # Counted from the newest period the scheduler opened, not from a period
    # recorded done by hand with `aduan report duties --done`: such a row only keeps its own
    # period from opening, it neither skips the periods before it nor starts the catch-up.
    # record_done opens and closes such a row at one instant: done_at == opened_at.
    by_hand = Duty.done_at.is_not(None) & (Duty.done_at == Duty.opened_at)
    newest = session.scalar(select(func.max(Duty.period)).where(Duty.duty == p.id, ~by_hand))
    recorded = set(session.scalars(select(Duty.period).where(Duty.duty == p.id, Duty.period > (newest or ""))))
    if newest is None:
        fresh = latest not in recorded and _clock(p, latest, cal).due_at > now
        return [latest] if fresh else []
    found, key, looked = [], latest, 0
    while key > newest and looked < CATCH_UP:
        if key not in recorded:
            found.append(key)
        key, looked = periods.preceding(p.every, key), looked + 1
    return found[::-1]


def _clock(p: PeriodicDef, key: str, cal: OfficeCalendar) -> Deadline:
    row = Deadline(kind="duty", stage=p.id, sla=p.clock_sla, started_at=periods.opening(cal, p.every, key),
                   paused_seconds=0.0, thresholds=list(p.remind_at), fired=[])
    refresh(row, cal)
    return row


def claim(session: Session, p: PeriodicDef, key: str, cal: OfficeCalendar, now: datetime) -> Duty | None:
    """Open the duty for `key` with its clock; None if it was opened before (the unique
    key makes this once-only whatever the number of schedulers). Thresholds already
    passed are not reminded: the opening notice carries the due time."""
    duty_id = session.scalar(
        upsert_insert(session, Duty).values(office_id=office_of(session), duty=p.id, period=key, role=p.actor, opened_at=now)
        .on_conflict_do_nothing(index_elements=["office_id", "duty", "period"]).returning(Duty.id))
    if duty_id is None:
        return None
    row = _clock(p, key, cal)
    clock = clock_of(row)
    row.fired = [f for f in row.thresholds if clock.threshold_at(cal, f) <= now]
    refresh(row, cal)
    row.duty_id = duty_id
    session.add(row)
    session.flush()
    return session.get(Duty, duty_id)


def open_due(session: Session, workflow: Workflow, cal: OfficeCalendar, now: datetime) -> list[Duty]:
    """Open every duty whose time has come; the rows this call opened."""
    opened = []
    for p in workflow.periodic:
        for key in due_periods(session, p, cal, now):
            if (duty := claim(session, p, key, cal, now)) is not None:
                opened.append(duty)
    return opened


def get(session: Session, duty: str, period: str) -> Duty | None:
    return session.scalar(select(Duty).where(Duty.duty == duty, Duty.period == period)
                          .options(selectinload(Duty.deadline)))


def open_rows(session: Session, duties: list[str] | None = None) -> list[Duty]:
    """The duties not done yet (of these ids), soonest due first."""
    query = (select(Duty).join(Deadline, Deadline.duty_id == Duty.id).where(Duty.done_at.is_(None))
             .options(selectinload(Duty.deadline)).order_by(Deadline.due_at, Duty.id))
    if duties is not None:
        query = query.where(Duty.duty.in_(duties))
    return list(session.scalars(query))


def rows(session: Session, limit: int = 200) -> list[Duty]:
    """Every duty row, newest period first."""
    return list(session.scalars(select(Duty).options(selectinload(Duty.deadline))
                                .order_by(Duty.period.desc(), Duty.duty).limit(limit)))


def mark_done(session: Session, duty: Duty, by: DoneBy, now: datetime) -> bool:
    """Mark it done and stop its clock; False if someone marked it first (two officers at
    once: one statement decides)."""
    # "fetch": the rows this session holds (the duty, its clock) show the change at once
    won = session.execute(update(Duty).where(Duty.id == duty.id, Duty.done_at.is_(None))
                          .values(done_at=now, done_by=by.name, done_by_id=by.officer_id, done_via=by.via)
                          .execution_options(synchronize_session="fetch")).rowcount
    if not won:
        session.refresh(duty)
        return False
    session.execute(update(Deadline).where(Deadline.duty_id == duty.id, Deadline.completed_at.is_(None))
                    .values(completed_at=now, next_remind_at=None).execution_options(synchronize_session="fetch"))
    return True


def record_done(session: Session, p: PeriodicDef, key: str, cal: OfficeCalendar, by: DoneBy,
                now: datetime) -> tuple[Duty, bool]:
    """Mark the duty of `key` done, opening its row first if it never opened (done before
    Aduan ran, or while no scheduler did): it then never opens. (row, marked by this call)."""
    duty = get(session, p.id, key) or claim(session, p, key, cal, now) or get(session, p.id, key)
    return duty, mark_done(session, duty, by, now)

