"""Keeping a case's deadline rows in step with its state.

One rule covers every workflow: when a case moves, each open stage clock either
carries on (the new state runs on the same clock: the same stage, or a stage that
`continues` it), pauses (the new state waits on the citizen), or completes. A state
with an SLA and no clock carried into it gets a new one.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.calendar import OfficeCalendar
from flows.sla import parse_sla
from flows.stage_clock import StageClock
from flows.workflow import CategoryDef, Workflow
from storage.db import upsert_insert
from storage.scoping import office_of
from storage.models import Case, Deadline, Reminder


def clock_of(row: Deadline) -> StageClock:
    return StageClock(sla=parse_sla(row.sla), started_at=row.started_at,
                      paused_seconds=row.paused_seconds, paused_at=row.paused_at)


def sla_text(workflow: Workflow, categories: tuple[CategoryDef, ...], state: str,
             category: str | None) -> str | None:
    """A state's enforced SLA, with the case category's override if it has one."""
    text = workflow.states[state].sla
    for cat in categories:
        if cat.id == category and state in cat.sla:
            text = cat.sla[state]
    return text


def _root(workflow: Workflow, state: str) -> str:
    return workflow.states[state].continues or state


def refresh(row: Deadline, cal: OfficeCalendar) -> None:
    """Recompute the due time and the next reminder from the row's clock."""
    clock = clock_of(row)
    row.due_at = clock.due(cal)
    pending = [f for f in row.thresholds if f not in row.fired]
    row.next_remind_at = (
        None if clock.paused or not pending else clock.threshold_at(cal, min(pending))
    )


def open_clock(session: Session, case: Case, kind: str, stage: str, sla: str,
               thresholds, now: datetime, cal: OfficeCalendar) -> Deadline:
    row = Deadline(case_id=case.id, kind=kind, stage=stage, sla=sla, started_at=now,
                   paused_seconds=0.0, thresholds=sorted(thresholds), fired=[])
    refresh(row, cal)
    session.add(row)
    return row


def _pause(row: Deadline, now: datetime, cal: OfficeCalendar) -> None:
    if row.paused_at is None:
        row.paused_at = now
        refresh(row, cal)


def _resume(row: Deadline, now: datetime, cal: OfficeCalendar) -> None:
    if row.paused_at is not None:
        row.paused_seconds = clock_of(row).resume(cal, now).paused_seconds
        row.paused_at = None
        refresh(row, cal)


def _complete(row: Deadline, now: datetime, cal: OfficeCalendar) -> None:
    """Stop the clock; time spent paused until now still moves the due time."""
    _resume(row, now, cal)
    row.completed_at = now
    row.next_remind_at = None


def on_enter(session: Session, case: Case, workflow: Workflow,
             categories: tuple[CategoryDef, ...], old_state: str | None, new_state: str,
             now: datetime, cal: OfficeCalendar) -> None:
    """Move the case's clocks from old_state to new_state (old_state None: a new case)."""
    new_def = workflow.states[new_state]
    carried = False
    escalation = workflow.escalation
    rows = session.scalars(select(Deadline).where(
        Deadline.case_id == case.id, Deadline.completed_at.is_(None))).all()
    for row in rows:
        if row.kind == "escalation":
            if escalation is None or new_state in escalation.followed_up or new_def.final:
                _complete(row, now, cal)
            elif new_def.pause_clock:
                _pause(row, now, cal)  # waiting on the citizen is not the office's delay
            else:
                _resume(row, now, cal)
            continue
        if _root(workflow, row.stage) == _root(workflow, new_state) and not new_def.final:
            _resume(row, now, cal)
            row.stage = new_state
            refresh(row, cal)
            carried = True
        elif new_def.pause_clock and row.stage == old_state:
            _pause(row, now, cal)
        else:
            _complete(row, now, cal)
    if not carried:
        text = sla_text(workflow, categories, new_state, case.category)
        if text:
            open_clock(session, case, "stage", new_state, text, new_def.thresholds(text), now, cal)
    # The escalation watch runs from the case's opening until a follow-up, and again
    # from a reopening (back out of the follow-up states) until the next one.
    if escalation is not None and not new_def.final and new_state not in escalation.followed_up:
        reopened = old_state is not None and (old_state in escalation.followed_up
                                              or workflow.states[old_state].final)
        if old_state is None or reopened:
            open_clock(session, case, "escalation", "escalation", escalation.after, (1.0,), now, cal)


def claim_reminders(session: Session, due: dict[int, list[float]], now: datetime) -> set[int]:
    """Claim the reminders due, {deadline id: thresholds passed}, in one statement: the
    last threshold of each is the one sent, the earlier ones are recorded as suppressed.
    The unique (deadline, threshold) key makes a claim once-only whatever the number of
    schedulers; returns the deadline ids whose reminder this transaction may send."""
    office = office_of(session)
    values = [{"office_id": office, "deadline_id": i, "threshold": f, "at": now, "status": "sent" if f == passed[-1] else "suppressed"}
              for i, passed in due.items() for f in passed]
    # Parameter sets, not .values(list): the statement compiles once and is cached; a
    # VALUES list of a new length compiles anew every batch.
    claim = (upsert_insert(session, Reminder).on_conflict_do_nothing(index_elements=["deadline_id", "threshold"])
             .returning(Reminder.deadline_id, Reminder.status))
    return {i for i, status in session.execute(claim, values) if status == "sent"}
