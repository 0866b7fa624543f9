"""Refusing many cases at once (a flood of spam): which cases, and which transition.

The cases are refused through the workflow like any other (`CaseService.fire`): the event
is in each case's history with who did it and the reason, the stage clock stops, and the
figures count them as refused. Nobody is notified: spam has no one worth telling.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.case_fields import ActorType
from flows.workflow import TransitionDef, Workflow
from storage.cases import Actor, CaseService
from storage.models import Case, CitizenIdentity


def refusal(wf: Workflow, state: str) -> TransitionDef | None:
    """How a case in `state` is refused: the workflow's `reject` there, else the nearest
    thing (a transition an office role takes, with a reason, into a final state); None if
    the case cannot be refused from where it is."""
    t = wf.transition("reject", state)
    if t is not None:
        return t
    for t in wf.transitions_from(state):
        if wf.states[t.dest].final and t.needs == "note" and any(r in wf.roles for r in t.roles):
            return t
    return None


def select_cases(session: Session, *, tickets: tuple[str, ...] = (), channel: str | None = None,
                 since: datetime | None = None, chat_id: str | None = None) -> list[Case]:
    """The cases named by ticket, or filed on `channel` since `since` from `chat_id`."""
    query = select(Case).order_by(Case.id)
    if tickets:
        query = query.where(Case.ticket.in_([x.strip().upper() for x in tickets]))
    if channel:
        query = query.where(Case.channel == channel)
    if since is not None:
        query = query.where(Case.created_at >= since)
    if chat_id:
        citizens = select(CitizenIdentity.citizen_id).where(CitizenIdentity.external_id == chat_id)
        if channel:
            citizens = citizens.where(CitizenIdentity.channel == channel)
        query = query.where(Case.citizen_id.in_(citizens))
    return list(session.scalars(query))


def reject(session: Session, cases: CaseService, case: Case, reason: str, now: datetime) -> TransitionDef:
    """Refuse one case as the admin at the command line, recording `reason`."""
    wf = cases.workflow_of(case)
    t = refusal(wf, case.state)
    if t is None:
        raise ValueError(f"{case.ticket} cannot be refused from {case.state}")
    role = next(r for r in t.roles if r in wf.roles)
    cases.fire(session, case.ticket, t.trigger, Actor(ActorType.ADMIN, role), note=reason, now=now)
    return t
