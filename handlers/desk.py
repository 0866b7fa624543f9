"""The officer service: every officer action as a method over a session, an officer and a
case, returning plain data (handlers.desk_views) or raising a domain error. The chat
(handlers.officer, rendered by handlers.cards) and the web back office are its faces;
neither decides a rule itself (they live in storage.visibility and storage.cases).

    desk = Desk(office, group_chat_id=None)   # office: handlers.office.Office
    desk.units(session) -> tuple[UnitRef, ...]
    desk.workflow_named(name) -> Workflow     # a CaseView's workflow, to label its ids
    desk.queue(session, officer, scope="mine" | "unit", page=0, now=None, page_size=PAGE, unit_id=None) -> Page
    desk.search(session, officer, filters: Filters, page=0, now=None, page_size=PAGE) -> Page
    desk.case(session, officer, ticket, now=None) -> CaseView
    desk.needs(session, officer, ticket, trigger) -> "note" | "unit" | None
    desk.act(session, officer, ticket, trigger, note=None, unit_code=None, version=None, now=None) -> Done
    desk.note(session, officer, ticket, text, now=None) -> EventView
    desk.escalate(session, officer, ticket, reason, now=None) -> EventView
    desk.lapor_id(session, officer, ticket, tracking_id, now=None) -> EventView
    desk.record_walk_in(session, officer, walk_in: WalkIn, now=None, via="officer") -> CaseView
    desk.statistics(session, officer, now=None) -> Statistics

"mine": the open cases waiting on the officer's role; "unit": every open case the officer
may see. Both soonest deadline first (page_size=None: all). Search: newest first.
Errors (storage.errors.StorageError, each with a catalog key for words.error_text):
CaseNotFound, and CaseHidden (another unit's case: the same message, show it alike where
existence must not leak); NotAllowed; NeedsInput (`.needs` "note" | "unit" | "reason",
`.units`, `.action`, `.version`); Stale (a Conflict: the case moved on; `.state`,
`.last`); InvalidInput and NotFound for bad input. Writes join the caller's transaction,
and so do the notices (outbox rows).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from flows.case_fields import Channel
from flows.errors import InvalidTransition, RoleNotAllowed, UnknownAction
from flows.intake import normalize_phone
from flows.presets import load_workflow
from flows.workflow import Workflow
from storage.cases import Actor, add_attachments
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import (Case, CaseEvent, Citizen, CitizenIdentity, Deadline, Officer, Rating, Unit,
                            utcnow)
from storage.visibility import (STAGE, case_is_overdue, is_late, last_event, may_see, overdue_cases,
                                visible_to)
from handlers import files, notify
from handlers.desk_views import (ActionView, AttachmentView, CaseHidden, CaseNotFound, CaseView, ClockView,
                                 Done, EventView, Filters, NeedsInput, NotAllowed, Page, QueueItem,
                                 RatingView, Reporter, Stale, Statistics, UnitRef, WalkIn)
from handlers.office import Office
from handlers.words import officers_of

PAGE = 8
WALK_IN_SOURCES = (Channel.FRONT_DESK, Channel.COMPLAINT_BOX, Channel.PHONE, Channel.EMAIL, Channel.LAPOR)
SCOPES = ("mine", "unit")


class Desk:
    def __init__(self, office: Office, group_chat_id: int | None = None):
        self.office, self.group_chat_id = office, group_chat_id

    @property
    def cases(self):
        return self.office.cases

    # -- lookups ----------------------------------------------------------------------------
    def units(self, session: Session) -> tuple[UnitRef, ...]:
        return tuple(UnitRef(u.id, u.code, u.name) for u in session.scalars(select(Unit).order_by(Unit.code)))

    def workflow_named(self, name: str) -> Workflow:
        wf = self.office.workflow
        return wf if name == wf.name else load_workflow(name)

    def _visible(self, session: Session, officer: Officer, ticket: str) -> Case:
        """The case, if this officer may see it; otherwise the same "no such case"."""
        try:
            case = self.cases.get(session, ticket)
        except NotFound as exc:
            raise CaseNotFound(str(exc), key=exc.key, **exc.values) from None
        if not may_see(self.cases.workflow_of(case), officer, case):
            raise CaseHidden(f"no case {ticket!r}", key="error.no_case", ticket=case.ticket)
        return case

    # -- lists --------------------------------------------------------------------------------
    def queue(self, session: Session, officer: Officer, scope: str = "mine", page: int = 0,
              now: datetime | None = None, page_size: int | None = PAGE, unit_id: int | None = None) -> Page:
        """Open cases, soonest deadline first, overdue marked; `unit_id`: only that unit's
        (within what the officer sees)."""
        if scope not in SCOPES:
            raise InvalidInput(f"scope {scope!r} is not one of: {', '.join(SCOPES)}", key="error.choice",
                               value=str(scope)[:40])
        wf = self.office.workflow
        states = [s for s, d in wf.states.items() if not d.final and (scope == "unit" or officer.role in d.actors)]
        query, due = self._listing(officer, now or utcnow())
        query = query.where(Case.state.in_(states), Case.workflow == wf.name)
        if unit_id is not None:
            query = query.where(Case.unit_id == unit_id)
        query = query.order_by(due.c.due.is_(None), due.c.due, Case.id)
        return self._page(session, query, page, page_size)

    def search(self, session: Session, officer: Officer, filters: Filters, page: int = 0,
               now: datetime | None = None, page_size: int | None = PAGE) -> Page:
        """The cases this officer may see that match every filter given, newest first."""
        now = now or utcnow()
        f = filters
        query, _ = self._listing(officer, now)
        if f.ticket and f.ticket.strip():
            query = query.where(Case.ticket.contains(f.ticket.strip().upper(), autoescape=True))
        for column, value in ((Case.state, f.state), (Case.category, f.category), (Case.channel, f.channel),
                              (Case.kind, f.kind)):
            if value:
                query = query.where(column == value)
        if f.stage:
            query = query.where(Case.id.in_(select(Deadline.case_id).where(
                Deadline.kind == STAGE, Deadline.completed_at.is_(None), Deadline.stage == f.stage)))
        if f.unit:
            query = query.where(Case.unit_id.in_(select(Unit.id).where(
                func.lower(Unit.code) == f.unit.strip().lower())))
        if f.opened_from:
            query = query.where(Case.created_at >= self._day_start(f.opened_from))
        if f.opened_to:
            query = query.where(Case.created_at < self._day_start(f.opened_to + timedelta(days=1)))
        if f.overdue is not None:
            late = Case.id.in_(overdue_cases(now))
            query = query.where(late if f.overdue else ~late)
        if f.text and f.text.strip():
            needle = f.text.strip()
            query = query.where(or_(Case.ticket.icontains(needle, autoescape=True),
                                    Case.text.icontains(needle, autoescape=True),
                                    Case.lapor_tracking_id.icontains(needle, autoescape=True)))
        return self._page(session, query.order_by(Case.id.desc()), page, page_size)

    def _day_start(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.office.calendar.tz).astimezone(timezone.utc)

    def _listing(self, officer: Officer, now: datetime):
        """SELECT (case, soonest open stage due time, overdue) of the cases this officer sees."""
        due = (select(Deadline.case_id, func.min(Deadline.due_at).label("due"))
               .where(Deadline.completed_at.is_(None), Deadline.kind == STAGE).group_by(Deadline.case_id)
               .subquery())
        query = (select(Case, due.c.due, Case.id.in_(overdue_cases(now)).label("late"))
                 .outerjoin(due, due.c.case_id == Case.id).where(visible_to(self.office.workflow, officer)))
        return query, due

    def _page(self, session: Session, query, page: int, page_size: int | None) -> Page:
        page = max(0, page)
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        if page_size:
            query = query.offset(page * page_size).limit(page_size)
        cal = self.office.calendar
        items = tuple(QueueItem(ticket=c.ticket, state=c.state, kind=c.kind, category=c.category,
                                channel=c.channel, unit_id=c.unit_id, created_at=c.created_at, due_at=due,
                                due_local=cal.local(due) if due else None, overdue=bool(late))
                      for c, due, late in session.execute(query))
        return Page(items, total, page, page_size)

    def statistics(self, session: Session, officer: Officer, now: datetime | None = None) -> Statistics:
        """The whole office's figures (every officer sees them, as in chat today)."""
        now = now or utcnow()
        wf = self.office.workflow
        counts = dict(session.execute(select(Case.state, func.count()).group_by(Case.state)).all())
        overdue = session.scalar(select(func.count()).select_from(overdue_cases(now).distinct().subquery()))
        local = self.office.calendar.local(now)
        month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        new = session.scalar(select(func.count()).select_from(Case).where(Case.created_at >= month_start))
        closed = session.scalar(select(func.count()).select_from(Case).where(Case.closed_at >= month_start))
        by_state = {s: counts[s] for s in wf.states if counts.get(s)}
        by_state.update({s: n for s, n in counts.items() if s not in by_state and n})  # older workflows' states
        return Statistics(sum(counts.values()), by_state, overdue, new, closed)

    # -- one case -------------------------------------------------------------------------------
    def case(self, session: Session, officer: Officer, ticket: str, now: datetime | None = None) -> CaseView:
        return self._view(session, officer, self._visible(session, officer, ticket), now or utcnow())

    def _view(self, session: Session, officer: Officer, case: Case, now: datetime) -> CaseView:
        wf = self.cases.workflow_of(case)
        cal = self.office.calendar
        events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))
        names = {i: o.name for i, o in officers_of(session, events).items()}
        running = list(session.scalars(select(Deadline).where(
            Deadline.case_id == case.id, Deadline.kind == STAGE, Deadline.completed_at.is_(None)).order_by(Deadline.id)))
        clocks = tuple(ClockView(d.stage, d.sla, d.due_at, cal.local(d.due_at), d.paused_at is not None,
                                 is_late(d, now)) for d in running)
        ratings = session.scalars(select(Rating).where(Rating.case_id == case.id).order_by(Rating.id))
        citizen = case.citizen if case.privacy != "anonim" else None
        allowed = may_see(wf, officer, case)
        return CaseView(
            ticket=case.ticket, version=case.version, workflow=case.workflow, state=case.state, kind=case.kind,
            category=case.category, channel=case.channel, privacy=case.privacy, text=case.text,
            unit=UnitRef(case.unit.id, case.unit.code, case.unit.name) if case.unit else None,
            reporter=Reporter(citizen.name, citizen.phone, citizen.email) if citizen else None,
            lapor_id=case.lapor_tracking_id, opened_at=case.created_at, opened_local=cal.local(case.created_at),
            closed_at=case.closed_at, escalated_at=case.escalated_at,
            attachments=tuple(_attachment(a) for a in files.files_of(session, case)),
            history=tuple(self._event(e, names.get(e.actor_id)) for e in events),
            clocks=clocks, deadline=next((c for c in clocks if c.stage == case.state), None),
            overdue=case_is_overdue(running, now),
            actions=tuple(_action(tr) for tr in wf.transitions_from(case.state) if officer.role in tr.roles)
            if allowed else (),
            ratings=tuple(RatingView(r.solved, r.score, r.comment, r.created_at) for r in ratings),
            may_note=allowed, may_escalate=allowed, may_set_lapor_id=allowed and self._coordinator(officer))

    def _event(self, e: CaseEvent, officer_name: str | None = None) -> EventView:
        return EventView(id=e.id, at=e.at, at_local=self.office.calendar.local(e.at), action=e.action,
                         from_state=e.from_state, to_state=e.to_state, note=e.note, public=bool(e.public),
                         actor_type=e.actor_type, actor_id=e.actor_id, actor_role=e.actor_role,
                         officer_name=officer_name if e.actor_type == "officer" else None)

    def _coordinator(self, officer: Officer) -> bool:
        """The SP4N-LAPOR! admins: the office's coordinator roles."""
        role = self.office.workflow.roles.get(officer.role)
        return role is not None and role.kind == "coordinator"

    def _stale(self, session: Session, case: Case) -> Stale:
        last = last_event(session, case.id)
        name = None
        if last is not None and last.actor_type == "officer" and last.actor_id:
            name = getattr(session.get(Officer, last.actor_id), "name", None)
        return Stale(f"{case.ticket} was just changed; it is now {case.state}", ticket=case.ticket,
                     state=case.state, workflow=case.workflow,
                     last=self._event(last, name) if last is not None else None)

    # -- acting ---------------------------------------------------------------------------------
    def needs(self, session: Session, officer: Officer, ticket: str, trigger: str) -> str | None:
        """What `trigger` needs from the case's current state: "note", "unit" or None."""
        case = self._visible(session, officer, ticket)
        tr = self.cases.workflow_of(case).transition(trigger, case.state)
        return tr.needs if tr is not None else None

    def act(self, session: Session, officer: Officer, ticket: str, trigger: str, note: str | None = None,
            unit_code: str | None = None, version: int | None = None, now: datetime | None = None) -> Done:
        """Fire `trigger` as this officer; `version`: the case version the officer saw."""
        now = now or utcnow()
        case = self._visible(session, officer, ticket)
        wf = self.cases.workflow_of(case)
        if not any(officer.role in x.roles for x in wf.transitions if x.trigger == trigger):
            raise NotAllowed(f"{officer.role} cannot {trigger} {case.ticket}", key="error.not_allowed",
                             ticket=case.ticket)
        if version is not None and case.version != version:  # acting on what they saw, not on what is
            raise self._stale(session, case)
        tr = wf.transition(trigger, case.state)
        if tr is not None and officer.role in tr.roles and tr.needs in ("note", "unit"):
            given = note if tr.needs == "note" else unit_code
            if given is None:
                raise NeedsInput(f"{trigger} needs a {tr.needs}", needs=tr.needs, ticket=case.ticket,
                                 trigger=trigger, version=case.version, action=_action(tr),
                                 units=self.units(session) if tr.needs == "unit" else ())
        ticket = case.ticket
        try:
            with session.begin_nested():
                case = self.cases.fire(session, ticket, trigger, Actor.officer(officer), note=note,
                                       unit_code=unit_code, expected_version=version, now=now)
        except (Conflict, InvalidTransition):
            raise self._stale(session, self.cases.get(session, ticket)) from None
        except (RoleNotAllowed, UnknownAction):
            raise NotAllowed(f"{officer.role} cannot {trigger} {ticket}", key="error.not_allowed",
                             ticket=ticket) from None
        notify.transition(session, self.office, case, tr, note, now)
        return Done(_action(tr), self._view(session, officer, case, now))

    def _add_event(self, session, officer, case, action: str, note: str, now) -> EventView:
        event = CaseEvent(case_id=case.id, at=now, actor_type="officer", actor_id=officer.id,
                          actor_role=officer.role, action=action, note=note, public=False)
        session.add(event)
        session.flush()
        return self._event(event, officer.name)

    def note(self, session: Session, officer: Officer, ticket: str, text: str | None,
             now: datetime | None = None) -> EventView:
        """An internal note (never shown to the citizen)."""
        case = self._visible(session, officer, ticket)
        if not (text or "").strip():
            raise NeedsInput("a note needs a text", needs="note", ticket=case.ticket)
        return self._add_event(session, officer, case, "note", text.strip(), now or utcnow())

    def escalate(self, session: Session, officer: Officer, ticket: str, reason: str | None,
                 now: datetime | None = None) -> EventView:
        """Mark the case escalated and tell the leadership why."""
        now = now or utcnow()
        case = self._visible(session, officer, ticket)
        if not (reason or "").strip():
            raise NeedsInput("an escalation needs a reason", needs="reason", ticket=case.ticket)
        case.escalated_at = now
        event = self._add_event(session, officer, case, "escalate", reason.strip(), now)
        notify.escalated(session, self.office, case, reason.strip(), now)
        return event

    def lapor_id(self, session: Session, officer: Officer, ticket: str, tracking_id: str | None,
                 now: datetime | None = None) -> EventView:
        """Keep the case's SP4N-LAPOR! tracking id (coordinators only)."""
        case = self._visible(session, officer, ticket)
        if not self._coordinator(officer):
            raise NotAllowed(f"{officer.role} cannot set the SP4N-LAPOR! id", key="error.not_allowed",
                             ticket=case.ticket)
        tracking_id = (tracking_id or "").strip()
        if not tracking_id or len(tracking_id) > 40 or " " in tracking_id:
            raise InvalidInput("an SP4N-LAPOR! id has 1-40 characters and no spaces", key="error.lapor_id")
        case.lapor_tracking_id = tracking_id
        return self._add_event(session, officer, case, "lapor_id", tracking_id, now or utcnow())

    def record_walk_in(self, session: Session, officer: Officer, walk_in: WalkIn, now: datetime | None = None,
                       via: str = "officer") -> CaseView:
        """Open a case for a complaint that came another way; `via`: where the files came."""
        now = now or utcnow()
        w = walk_in
        if w.source not in {s.value for s in WALK_IN_SOURCES}:
            raise InvalidInput(f"source {w.source!r} is not one of: {', '.join(s.value for s in WALK_IN_SOURCES)}",
                               key="error.walk_in_source")
        email, phone = _email(w.email), _phone(w.phone)
        default = self.office.default_language
        with session.begin_nested():
            citizen = self._walk_in_citizen(session, w.name, email, phone, now) if w.name or email or phone else None
            case = self.cases.open_case(session, kind=w.kind, text=w.text, channel=w.source, category=w.category,
                                        privacy=w.privacy or "biasa", citizen=citizen,
                                        language=citizen.language if citizen else default,
                                        actor=Actor.officer(officer), now=now)
            add_attachments(session, case, list(w.attachments), via, now)
        notify.new_case(session, self.office, case, self.group_chat_id, now, recorded_by=officer.id)
        return self._view(session, officer, case, now)


    def _walk_in_citizen(self, session: Session, name, email, phone, now) -> Citizen:
        """A known WhatsApp number is that citizen (they hear about the case there);
        otherwise a new citizen, reached on the office's phone channel if it has one."""
        channel = self.office.phone_channel
        if phone and channel:
            found = session.scalar(select(CitizenIdentity).where(CitizenIdentity.channel == channel,
                                                                 CitizenIdentity.external_id == phone))
            if found is not None:
                return found.citizen
        citizen = Citizen(name=name, email=email, phone=phone, language=self.office.default_language,
                          created_at=now)
        session.add(citizen)
        if phone and channel:
            session.add(CitizenIdentity(citizen=citizen, channel=channel, external_id=phone))
        return citizen


def _email(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidInput(f"{text[:80]!r} is not an email address", key="intake.email_invalid",
                           value=text[:80]) from None


def _phone(text: str | None) -> str | None:
    if not text:
        return None
    if (phone := normalize_phone(text)) is None:
        raise InvalidInput("not a phone number", key="intake.phone_invalid")
    return phone


def _action(tr) -> ActionView:
    return ActionView(tr.trigger, tr.label_id, tr.label_en, tr.needs, tr.command)


def _attachment(a) -> AttachmentView:
    return AttachmentView(id=a.id, media_type=a.media_type, content_type=a.content_type, size=a.size,
                          filename=a.filename, channel=a.channel, provider_ref=a.provider_ref,
                          stored_path=a.stored_path, fetch_error=a.fetch_error, created_at=a.created_at)
