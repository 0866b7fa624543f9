"""Offices, the tenants (storage.base.Office): added, found, listed, their settings kept.

Read across offices by design: the deployment looks an office up here, then works in
that office's own sessions (storage.scoping)."""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.base import FIRST_OFFICE, Office
from storage.errors import InvalidInput, NotFound

# In web addresses (/o/<code>/, /webhooks/telegram/<code>) and on the command line.
CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")


def add_office(session: Session, code: str, settings: dict, parent: str | None = None) -> Office:
    code = code.strip().lower()
    if not CODE.match(code):
        raise InvalidInput(f"office code {code!r}: 2-40 lower-case letters, digits or '-'", key="error.office_code")
    if session.scalar(select(Office.id).where(Office.code == code)) is not None:
        raise InvalidInput(f"office {code!r} exists already", key="error.office_exists")
    parent_id = office_by_code(session, parent).id if parent else None
    office = Office(code=code, settings=settings, parent_id=parent_id)
    session.add(office)
    session.flush()
    return office


def office_by_code(session: Session, code: str) -> Office:
    office = session.scalar(select(Office).where(Office.code == code.strip().lower()))
    if office is None:
        raise NotFound(f"no office {code!r}", key="error.office_unknown")
    return office


def list_offices(session: Session) -> list[Office]:
    return list(session.scalars(select(Office).order_by(Office.id)))


def set_settings(session: Session, code: str, settings: dict) -> Office:
    office = office_by_code(session, code)
    if office.id == FIRST_OFFICE and settings:
        raise InvalidInput("the first office's settings are the config file's", key="error.office_first")
    office.settings = settings
    return office


def children(session: Session, office_id: int) -> list[Office]:
    """The offices under this one (a province's regencies), for roll-up reports."""
    return list(session.scalars(select(Office).where(Office.parent_id == office_id).order_by(Office.id)))
