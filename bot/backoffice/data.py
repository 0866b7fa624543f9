"""What the back office's pages read, in one thin module: queues and search (the officer
service's, handlers.desk, as the chat's), the case view and the period's figures
(storage.reporting: the reports' figures).

Reading only: what an officer may do to a case comes from the officer service
(handlers.desk), which the case page's forms (bot.backoffice.actions) act through.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storage import visibility
from handlers.desk import Desk
from handlers.desk_views import Filters as DeskFilters
from handlers.files import FETCHABLE, files_of
from handlers.office import Office
from handlers.words import officers_of
from storage.models import Case, CaseEvent, Deadline, Officer, Rating, Unit
from storage.reporting import PeriodFigures, figures

PAGE = 25
IMAGES = ("image/jpeg", "image/png", "image/gif", "image/webp")  # shown inline (as bot.files serves them)


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


def queue(session: Session, office: Office, officer: Officer, now: datetime, page: int = 0,
          mine: bool = True, unit_id: int | None = None) -> tuple[list, int]:
    """Mine: the cases waiting on my role (and unit), as /antrian. Else my unit's open cases
    (an officer without a unit: every unit's, or `unit_id`'s). Soonest deadline first: the
    officer service's queue (handlers.desk), its items handlers.desk_views.QueueItem."""
    desk = Desk(office)
    found = desk.queue(session, officer, "mine" if mine else "unit", page, now, page_size=PAGE,
                       unit_id=None if mine or unit_bound(office, officer) else unit_id)
    return list(found.items), found.total


def search(session: Session, office: Office, officer: Officer, f: Filters, now: datetime,
           page: int = 0) -> tuple[list, int]:
    """Cases by ticket, state, unit, category, channel, opening date (office days), overdue
    and words of the report, through the officer service's search (a unit's officer finds
    only their unit's), newest first."""
    unit = None
    if f.unit is not None and not unit_bound(office, officer):
        found_unit = session.get(Unit, f.unit)
        if found_unit is None:
            return [], 0
        unit = found_unit.code
    filters = DeskFilters(ticket=f.ticket or None, state=f.state or None, unit=unit, category=f.category or None,
                          channel=f.channel or None, opened_from=f.since, opened_to=f.until,
                          overdue=True if f.overdue else None, text=f.text[:200] or None)
    found = Desk(office).search(session, officer, filters, page, now, page_size=PAGE)
    return list(found.items), found.total


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
