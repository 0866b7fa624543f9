"""The case service: open a case, fire transitions as an actor, find and list cases.

Every change happens inside the caller's transaction: the case row (optimistic
lock on `version`), its event, and its deadline rows are written together or not
at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from flows.calendar import OfficeCalendar
from flows.case_fields import ActorType, Channel, Kind, Privacy
from flows.errors import RoleNotAllowed
from flows.presets import lifecycle_of, load_workflow
from flows.workflow import CategoryDef, Workflow
from storage import deadlines
from storage.access import code_hash
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import Attachment, Case, CaseEvent, Citizen, Deadline, utcnow
from storage.tickets import next_ticket
from storage.units import unit_by_code
from storage.visibility import last_event, may_see, overdue_cases

MAX_TEXT = 8000  # the intake dialog refuses longer texts with a reason; nothing is ever cut


@dataclass(frozen=True)
class Actor:
    """Who acts: an officer with a role (and unit), the citizen, the system, an admin."""

    type: ActorType
    role: str
    id: int | None = None
    unit_id: int | None = None

    @property
    def label(self) -> str:
        if self.type is ActorType.OFFICER:
            return f"officer #{self.id} ({self.role})"
        return self.type.value

    @classmethod
    def officer(cls, officer) -> "Actor":
        return cls(ActorType.OFFICER, officer.role, officer.id, officer.unit_id)


CITIZEN = Actor(ActorType.CITIZEN, "citizen")
SYSTEM = Actor(ActorType.SYSTEM, "system")


def _choice(enum, value: str, what: str) -> str:
    try:
        return enum(value).value
    except ValueError:
        raise InvalidInput(f"{what} {value!r} is not one of: {', '.join(e.value for e in enum)}",
                           key="error.choice", value=str(value)[:40]) from None


def add_attachments(session: Session, case: Case, attachments: list[dict], channel: str,
                    now: datetime, event_id: int | None = None) -> None:
    """Keep the provider's reference (file id or media URL); the worker fetches the file."""
    for a in attachments:
        session.add(Attachment(case_id=case.id, event_id=event_id, channel=channel,
                               media_type=a["kind"], provider_ref=a.get("ref"),
                               content_type=(a.get("content_type") or "")[:100] or None, size=a.get("size"),
                               filename=(a.get("filename") or "")[:200] or None, created_at=now))


class CaseService:
    def __init__(self, workflow: Workflow, calendar: OfficeCalendar, *,
                 categories: tuple[CategoryDef, ...] | None = None, ticket_prefix: str = "ADU"):
        self.workflow = workflow
        self.calendar = calendar
        self.categories = tuple(categories) if categories else workflow.categories
        self.ticket_prefix = ticket_prefix

    # -- lookups ----------------------------------------------------------------------
    def workflow_of(self, case: Case) -> Workflow:
        """Cases keep the workflow they were opened with, even after the office switches."""
        return self.workflow if case.workflow == self.workflow.name else load_workflow(case.workflow)

    def get(self, session: Session, ticket: str, *, full: bool = False) -> Case:
        query = select(Case).where(Case.ticket == ticket.strip().upper())
        if full:
            query = query.options(selectinload(Case.events), selectinload(Case.deadlines),
                                  selectinload(Case.unit))
        case = session.scalar(query)
        if case is None:
            raise NotFound(f"no case {ticket!r}", key="error.no_case", ticket=ticket.strip().upper()[:40])
        return case

    def list(self, session: Session, *, state: str | None = None, overdue: bool = False,
             now: datetime | None = None, limit: int | None = None) -> list[Case]:
        query = select(Case).order_by(Case.id)
        if state:
            query = query.where(Case.state == state)
        if overdue:
            query = query.where(Case.id.in_(overdue_cases(now or utcnow())))
        if limit:
            query = query.limit(limit)
        return list(session.scalars(query))

    def open_deadline(self, session: Session, case: Case) -> Deadline | None:
        """The clock of the case's current stage, if it has one."""
        return session.scalar(select(Deadline).where(
            Deadline.case_id == case.id, Deadline.kind == "stage",
            Deadline.completed_at.is_(None), Deadline.stage == case.state))

    # -- changes ------------------------------------------------------------------------
    def open_case(self, session: Session, *, kind: str, text: str, channel: str,
                  category: str | None = None, privacy: str = Privacy.BIASA,
                  citizen: Citizen | None = None, language: str = "id",
                  actor: Actor = CITIZEN, now: datetime | None = None,
                  access_code: str | None = None) -> Case:
        """`access_code` (storage.access.new_code) lets its holder see the case from any chat."""
        now = now or utcnow()
        kind = _choice(Kind, kind, "kind")
        privacy = _choice(Privacy, privacy, "privacy")
        channel = _choice(Channel, channel, "channel")
        if not text or not text.strip():
            raise InvalidInput("the complaint text is empty", key="error.text_empty")
        if len(text) > MAX_TEXT:
            raise InvalidInput(f"the complaint text has {len(text)} characters; at most {MAX_TEXT}",
                               key="error.text_long", n=len(text), max=MAX_TEXT)
        if category is not None and self.categories and category not in {c.id for c in self.categories}:
            raise InvalidInput(f"category {category!r} is not one of: "
                               f"{', '.join(c.id for c in self.categories)}", key="error.category")
        wf = self.workflow
        year = self.calendar.local(now).year
        ticket = next_ticket(session, year, self.ticket_prefix)
        case = Case(ticket=ticket, kind=kind,
                    category=category, channel=channel, text=text.strip(), privacy=privacy,
                    state=wf.initial, workflow=wf.name, citizen=citizen, language=language,
                    created_at=now, updated_at=now,
                    access_code_hash=code_hash(ticket, access_code) if access_code else None)
        session.add(case)
        session.flush()
        session.add(CaseEvent(case_id=case.id, at=now, actor_type=actor.type, actor_id=actor.id,
                              actor_role=actor.role, action="open", to_state=wf.initial))
        deadlines.on_enter(session, case, wf, self.categories, None, wf.initial, now, self.calendar)
        session.flush()
        return case

    def fire(self, session: Session, ticket: str, trigger: str, actor: Actor, *,
             note: str | None = None, unit_code: str | None = None,
             expected_version: int | None = None, now: datetime | None = None) -> Case:
        """Take the case through `trigger` as `actor`; raise a clear error if it cannot."""
        now = now or utcnow()
        case = self.get(session, ticket)
        if expected_version is not None and case.version != expected_version:
            raise self._conflict(session, case)
        wf = self.workflow_of(case)
        lifecycle = lifecycle_of(wf)
        t = lifecycle.check(case.state, trigger, actor.role)
        self._check_unit(wf, case, actor)
        note = (note or "").strip() or None
        if t.needs == "note" and not note:
            raise InvalidInput(f"{trigger} needs a note (the reason or the answer)", key="error.needs_note")
        if t.needs == "unit":
            if not unit_code:
                raise InvalidInput(f"{trigger} needs a unit code", key="error.needs_unit")
            case.unit = unit_by_code(session, unit_code)
        old = case.state
        case.state = lifecycle.fire(old, trigger, actor.role)
        case.updated_at = now
        new_def = wf.states[case.state]
        case.closed_at = now if new_def.final else None
        shown = note if t.note_public else None  # other notes stay internal, in their own event
        session.add(CaseEvent(case_id=case.id, at=now, actor_type=actor.type, actor_id=actor.id,
                              actor_role=actor.role, action=trigger, from_state=old,
                              to_state=case.state, note=shown, public=new_def.citizen_visible))
        if note and not t.note_public:
            session.add(CaseEvent(case_id=case.id, at=now, actor_type=actor.type, actor_id=actor.id,
                                  actor_role=actor.role, action="note", note=note, public=False))
        case_id = case.id
        try:
            session.flush()  # UPDATE ... WHERE version = n: fails if someone acted first
        except StaleDataError:
            # Our session is mid-failure (and `case` expired): read the winner's change
            # in a fresh session.
            with Session(session.get_bind()) as fresh:
                raise self._conflict(fresh, fresh.get(Case, case_id)) from None
        deadlines.on_enter(session, case, wf, self.categories, old, case.state, now, self.calendar)
        session.flush()
        return case

    def add_info(self, session: Session, case: Case, actor: Actor, *, text: str | None,
                 attachments: list[dict], channel: str, now: datetime | None = None) -> CaseEvent:
        """Append information (text and files) to a case without changing its state."""
        now = now or utcnow()
        event = CaseEvent(case_id=case.id, at=now, actor_type=actor.type, actor_id=actor.id,
                          actor_role=actor.role, action="citizen_info" if actor.type is ActorType.CITIZEN
                          else "info", note=(text or "").strip() or None, public=True)
        session.add(event)
        session.flush()
        add_attachments(session, case, attachments, channel, now, event_id=event.id)
        return event

    def _check_unit(self, wf: Workflow, case: Case, actor: Actor) -> None:
        """Officers of a unit (liaisons, unit officers with a unit) act only on its cases."""
        if actor.type is ActorType.OFFICER and not may_see(wf, actor, case):
            raise RoleNotAllowed(f"{case.ticket} is not a case of this officer's unit")

    def _conflict(self, session: Session, case: Case) -> Conflict:
        """Who changed the case last, and what it is now."""
        last = last_event(session, case.id)
        who = "someone"
        if last is not None:
            who = (f"officer #{last.actor_id} ({last.actor_role})" if last.actor_type == "officer"
                   else last.actor_type)
        label = self.workflow_of(case).states[case.state].label_en
        return Conflict(f"{case.ticket} was just changed by {who}; it is now {label!r} ({case.state})",
                        actor=who, state=case.state)
