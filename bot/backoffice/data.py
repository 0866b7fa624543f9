"""What the back office's pages read, in one thin module: queues, search, the case view
and the period's figures, with the same rules as the chat (handlers.cards: role, unit,
soonest deadline first; storage.reporting: the reports' figures).

Reading only: what an officer may do to a case comes from the officer service
(handlers.desk), which the case page's forms (bot.backoffice.actions) act through.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from storage import visibility
from handlers.files import FETCHABLE, files_of
from handlers.office import Office
from handlers.words import officers_of
from storage.models import Case, CaseEvent, Deadline, Officer, Rating
from storage.reporting import PeriodFigures, figures

PAGE = 25
IMAGES = ("image/jpeg", "image/png", "image/gif", "image/webp")  # shown inline (as bot.files serves them)


@dataclass
class Row:
    case: Case
    due: datetime | None
    overdue: bool


@dataclass
class Filters:
    ticket: str = ""
    state: str = ""
    unit: int | None = None
    category: str = ""
    channel: str = ""
    since: date | None = None
    until: date | None = None  # included
    overdue: bool = False
    text: str = ""

    @property
    def any(self) -> bool:
        return any((self.ticket, self.state, self.unit, self.category, self.channel, self.since, self.until,
                    self.overdue, self.text))


@dataclass
class CaseView:
    case: Case
    events: list
    officers: dict
    attachments: list
    clocks: list  # every stage clock, the open ones first
    ratings: list
    extra: dict = field(default_factory=dict)


def unit_bound(office: Office, officer: Officer) -> bool:
    """A unit's officer (liaison or unit officer with a unit) sees only that unit's cases."""
    return visibility.bound_unit(office.workflow, officer) is not None


def may_see(office: Office, case: Case, officer: Officer) -> bool:
    return visibility.may_see(office.cases.workflow_of(case), officer, case)


def _due():
    return (select(Deadline.case_id, func.min(Deadline.due_at).label("due"))
            .where(Deadline.completed_at.is_(None), Deadline.kind == "stage").group_by(Deadline.case_id)
            .subquery())


def _rows(session: Session, query, due, now: datetime, page: int) -> tuple[list[Row], int]:
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    found = session.execute(query.order_by(due.c.due.is_(None), due.c.due, Case.id)
                            .offset(page * PAGE).limit(PAGE)).all()
    return [Row(c, d, d is not None and d < now) for c, d in found], total


def queue(session: Session, office: Office, officer: Officer, now: datetime, page: int = 0,
          mine: bool = True, unit_id: int | None = None) -> tuple[list[Row], int]:
    """Mine: the cases waiting on my role (and unit), as /antrian. Else my unit's open cases
    (an officer without a unit: every unit's, or `unit_id`'s). Soonest deadline first."""
    wf = office.workflow
    due = _due()
    query = select(Case, due.c.due).outerjoin(due, due.c.case_id == Case.id).where(Case.workflow == wf.name)
    if mine:
        query = query.where(Case.state.in_([s for s, d in wf.states.items() if officer.role in d.actors and not d.final]))
    else:
        query = query.where(Case.state.in_([s for s, d in wf.states.items() if not d.final]))
    if unit_bound(office, officer):
        query = query.where(Case.unit_id == officer.unit_id)
    elif unit_id is not None and not mine:
        query = query.where(Case.unit_id == unit_id)
    return _rows(session, query, due, now, page)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(session: Session, office: Office, officer: Officer, f: Filters, now: datetime,
           page: int = 0) -> tuple[list[Row], int]:
    """Cases by ticket, state, unit, category, channel, opening date (office days), overdue
    and words of the complaint; a unit's officer finds only their unit's."""
    cal = office.calendar
    due = _due()
    query = select(Case, due.c.due).outerjoin(due, due.c.case_id == Case.id)
    if f.ticket:
        query = query.where(Case.ticket.ilike(_like(f.ticket.strip().upper()), escape="\\"))
    if f.state:
        query = query.where(Case.state == f.state)
    if f.category:
        query = query.where(Case.category == f.category)
    if f.channel:
        query = query.where(Case.channel == f.channel)
    if f.since:
        query = query.where(Case.created_at >= datetime.combine(f.since, time.min, cal.tz))
    if f.until:
        query = query.where(Case.created_at < datetime.combine(f.until + timedelta(days=1), time.min, cal.tz))
    if f.overdue:
        query = query.where(Case.id.in_(select(Deadline.case_id).where(
            Deadline.completed_at.is_(None), Deadline.kind == "stage", Deadline.paused_at.is_(None),
            Deadline.due_at < now)))
    if f.text.strip():
        words = f.text.strip()[:200]
        query = query.where(or_(Case.text.ilike(_like(words), escape="\\"),
                                Case.lapor_tracking_id.ilike(_like(words), escape="\\")))
    if unit_bound(office, officer):
        query = query.where(Case.unit_id == officer.unit_id)
    elif f.unit is not None:
        query = query.where(Case.unit_id == f.unit)
    return _rows(session, query, due, now, page)


def case_by_ticket(session: Session, office: Office, officer: Officer, ticket: str) -> Case | None:
    """The case, if this officer may see it (else None: the page is a 404 either way)."""
    case = session.scalar(select(Case).where(Case.ticket == ticket.strip().upper()[:40])
                          .options(selectinload(Case.unit), selectinload(Case.citizen)))
    return case if case is not None and may_see(office, case, officer) else None


def case_view(session: Session, office: Office, case: Case, officer: Officer) -> CaseView:
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))
    clocks = list(session.scalars(select(Deadline).where(Deadline.case_id == case.id, Deadline.kind == "stage")
                                  .order_by(Deadline.completed_at.is_not(None), Deadline.id)))
    ratings = list(session.scalars(select(Rating).where(Rating.case_id == case.id).order_by(Rating.id)))
    return CaseView(case, events, officers_of(session, events), files_of(session, case), clocks, ratings)


def attachment_of(session: Session, office: Office, officer: Officer, attachment_id: int):
    """(attachment, case) if this officer may see the case, else None."""
    from storage.models import Attachment

    a = session.get(Attachment, attachment_id)
    case = session.get(Case, a.case_id) if a is not None else None
    return (a, case) if case is not None and may_see(office, case, officer) else None


def shown_inline(a) -> bool:
    return a.media_type in FETCHABLE and bool(a.stored_path) and (a.content_type or "").split(";")[0] in IMAGES


def period(session: Session, rt, start: datetime, end: datetime, now: datetime) -> PeriodFigures:
    """The figures of [start, end) as the reports count them, as they stand now."""
    return figures(session, rt.workflow, rt.calendar, start, end, min(end, now))
