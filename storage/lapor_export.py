"""The reports an SP4N-LAPOR! admin enters or updates in LAPOR! for a month, streamed a
batch at a time (`aduan report lapor`): what LAPOR!'s form asks, and nothing else.

The month's rows are the reports that arrived in it (to enter) and then the earlier ones
whose state changed in it (to update: their status and follow-up), each as it stands now.
The privacy rules hold here, before a row leaves storage: an anonim report carries no
name, phone or email of its reporter; an anonymised case (past retention, or erased on
request) carries no text, answer, location or file either, whatever the columns hold.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.case_fields import ActorType, Privacy
from flows.presets import load_workflow
from flows.workflow import Workflow
from storage.models import Attachment, Case, CaseEvent, Citizen, Unit

BATCH = 500


@dataclass(frozen=True)
class LaporRecord:
    ticket: str
    arrived_at: datetime  # UTC
    kind: str
    category: str | None
    text: str
    privacy: str
    workflow: str
    state: str
    tracking_id: str | None
    unit: str | None  # the unit (OPD) it was forwarded to
    name: str | None
    phone: str | None
    email: str | None
    files: int  # attachments (a shared location is not a file); none once anonymised
    location: str | None  # "lat,lon" the reporter shared
    followed_up_at: datetime | None
    answer: str | None  # the office's latest follow-up text (answer, or reason)
    anonymised: bool
    arrived_in_month: bool


def followed_up(wf: Workflow) -> tuple[str, ...]:
    """The workflow's follow-up states (as the monthly figures count them)."""
    if wf.escalation:
        return wf.escalation.followed_up
    return tuple(s for s, d in wf.states.items() if d.final)


def month_records(session: Session, workflow: Workflow, start: datetime, end: datetime,
                  batch: int = BATCH) -> Iterator[LaporRecord]:
    """The month [start, end): its arrivals in id order, then earlier cases changed in it."""
    last = 0
    while True:
        rows = _cases(session, (Case.created_at >= start, Case.created_at < end, Case.id > last), batch)
        if not rows:
            break
        yield from _records(session, workflow, rows, True)
        last = rows[-1].id
    # Transitions have a from_state (the opening event has none); one pass over the month.
    changed = list(session.scalars(
        select(CaseEvent.case_id).join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.at >= start, CaseEvent.at < end, CaseEvent.from_state.is_not(None),
               Case.created_at < start)
        .distinct().order_by(CaseEvent.case_id)))
    for i in range(0, len(changed), batch):
        yield from _records(session, workflow, _cases(session, (Case.id.in_(changed[i:i + batch]),), batch), False)


def _cases(session: Session, where: tuple, limit: int) -> list:
    return session.execute(
        select(Case.id, Case.ticket, Case.created_at, Case.kind, Case.category, Case.text, Case.privacy,
               Case.workflow, Case.state, Case.lapor_tracking_id, Case.anonymised_at,
               Unit.name.label("unit"), Citizen.name.label("name"), Citizen.phone, Citizen.email)
        .outerjoin(Unit, Unit.id == Case.unit_id).outerjoin(Citizen, Citizen.id == Case.citizen_id)
        .where(*where).order_by(Case.id).limit(limit)).all()


def _records(session: Session, workflow: Workflow, rows: list, arrived_in_month: bool) -> Iterator[LaporRecord]:
    ids = [r.id for r in rows]
    events: dict[int, list] = {i: [] for i in ids}
    for e in session.execute(select(CaseEvent.case_id, CaseEvent.at, CaseEvent.actor_type, CaseEvent.to_state,
                                    CaseEvent.note)
                             .where(CaseEvent.case_id.in_(ids), CaseEvent.to_state.is_not(None))
                             .order_by(CaseEvent.id)):
        events[e.case_id].append(e)
    files, location = dict.fromkeys(ids, 0), {}
    for a in session.execute(select(Attachment.case_id, Attachment.media_type, Attachment.provider_ref)
                             .where(Attachment.case_id.in_(ids)).order_by(Attachment.id)):
        if a.media_type == "location":
            if a.provider_ref:
                location[a.case_id] = a.provider_ref
        else:
            files[a.case_id] += 1
    flows: dict[str, tuple[str, ...]] = {}
    for r in rows:
        if r.workflow not in flows:
            flows[r.workflow] = followed_up(workflow if r.workflow == workflow.name else load_workflow(r.workflow))
        done = [e for e in events[r.id] if e.to_state in flows[r.workflow]]
        # The text the office gave with a follow-up (an answer, a reason for referral or
        # rejection), the latest; without one (archived), the follow-up's first moment.
        told = [e for e in done if e.note and e.actor_type in (ActorType.OFFICER, ActorType.ADMIN)]
        at = told[-1].at if told else (done[0].at if done else None)
        gone = r.anonymised_at is not None
        hidden = gone or r.privacy == Privacy.ANONIM
        yield LaporRecord(
            ticket=r.ticket, arrived_at=r.created_at, kind=r.kind, category=r.category,
            text="" if gone else r.text, privacy=r.privacy, workflow=r.workflow, state=r.state,
            tracking_id=r.lapor_tracking_id, unit=r.unit,
            name=None if hidden else r.name, phone=None if hidden else r.phone, email=None if hidden else r.email,
            files=0 if gone else files[r.id], location=None if gone else location.get(r.id),
            followed_up_at=at, answer=None if gone or not told else told[-1].note,
            anonymised=gone, arrived_in_month=arrived_in_month)
