"""Ticket numbers: ADU-2025-000123, one sequence per office and year, safe under concurrency."""
from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import TicketCounter
from storage.scoping import office_of


def next_ticket(session: Session, year: int, prefix: str = "ADU") -> str:
    """The next ticket number of `year`; the counter row is locked until commit."""
    office = office_of(session)
    for _ in range(3):
        number = session.execute(
            update(TicketCounter).where(TicketCounter.office_id == office, TicketCounter.year == year)
            .values(last=TicketCounter.last + 1).returning(TicketCounter.last)
        ).scalar_one_or_none()
        if number is not None:
            return f"{prefix}-{year}-{number:06d}"
        try:
            with session.begin_nested():  # first ticket of the year; another may race us
                session.execute(insert(TicketCounter).values(office_id=office, year=year, last=0))
        except IntegrityError:
            pass
    raise RuntimeError(f"could not allocate a ticket number for {year}")
