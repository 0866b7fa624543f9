"""The officer rules, written once: which cases an officer may see, what is overdue, who
acted last. Every face (chat, back office, notices, digests, reports) asks here.

- Unit visibility: where the workflow forwards cases to units, an officer of a
  unit-bound role (a liaison or unit officer with `scope = "unit"`) holding a unit sees
  that unit's cases only; cases not yet forwarded are the coordinators' business. Every
  other role (coordinators, leadership, agency-wide liaisons, an officer without a
  unit) sees all of the office's cases. `who` is anything with `role` and `unit_id`
  (an Officer, a storage.cases.Actor); the citizen and the system are never bound.
  `may_see` is the predicate, `visible_to` the same rule as a query filter.
- Overdue: a clock is late at `as_of` when its due time has passed and it was still
  running then (open, or completed later; a paused clock waits on the citizen, not the
  office). A case is overdue when one of its stage clocks is late (`overdue_cases`).
  `late` is the query expression, `is_late` the predicate.
- Who acted last: the case's newest event (`last_event`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select, true
from sqlalchemy.orm import Session

from flows.workflow import Workflow
from storage.models import Case, CaseEvent, Deadline

STAGE = "stage"  # the deadline kind of a case's stage clocks (not its escalation watch)


# -- unit visibility ---------------------------------------------------------------------
def bound_unit(workflow: Workflow, who) -> int | None:
    """The unit `who` is limited to, or None when it sees the whole office."""
    if workflow.unit_bound(who.role) and who.unit_id is not None:
        return who.unit_id
    return None


def may_see(workflow: Workflow, who, case: Case) -> bool:
    """Whether `who` may see (and so act on) `case`; `workflow`: the case's own."""
    unit = bound_unit(workflow, who)
    return unit is None or case.unit_id == unit


def visible_to(workflow: Workflow, who):
    """`may_see` as a WHERE clause on Case (the office's workflow)."""
    unit = bound_unit(workflow, who)
    return true() if unit is None else Case.unit_id == unit


# -- overdue -------------------------------------------------------------------------------
def late(as_of: datetime):
    """A Deadline past its due time at `as_of` and still running then."""
    return and_(Deadline.due_at < as_of, Deadline.paused_at.is_(None),
                or_(Deadline.completed_at.is_(None), Deadline.completed_at >= as_of))


def is_late(deadline, as_of: datetime) -> bool:
    """`late` for one deadline row (or anything with due_at, paused_at, completed_at)."""
    return (deadline.due_at < as_of and deadline.paused_at is None
            and (deadline.completed_at is None or deadline.completed_at >= as_of))


def overdue_cases(as_of: datetime):
    """SELECT of the ids of the cases with a late stage clock (`Case.id.in_(...)`)."""
    return select(Deadline.case_id).where(Deadline.kind == STAGE, late(as_of))


def case_is_overdue(deadlines, as_of: datetime) -> bool:
    """`overdue_cases` for one case, given its deadline rows."""
    return any(d.kind == STAGE and is_late(d, as_of) for d in deadlines)


# -- who acted last ------------------------------------------------------------------------
def last_event(session: Session, case_id: int) -> CaseEvent | None:
    """The case's newest event: who changed it last, and how."""
    return session.scalar(select(CaseEvent).where(CaseEvent.case_id == case_id)
                          .order_by(CaseEvent.id.desc()).limit(1))
