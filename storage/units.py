"""Work units (unit kerja / OPD)."""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.errors import InvalidInput, NotFound
from storage.models import Unit

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


def add_unit(session: Session, code: str, name: str) -> Unit:
    if not _CODE.match(code):
        raise InvalidInput(f"unit code {code!r}: use 1-40 letters, digits, '-' or '_'")
    if not name.strip():
        raise InvalidInput("unit name is empty")
    if session.scalar(select(Unit).where(Unit.code == code)) is not None:
        raise InvalidInput(f"unit {code!r} already exists")
    unit = Unit(code=code, name=name.strip())
    session.add(unit)
    session.flush()
    return unit


def unit_by_code(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        known = ", ".join(session.scalars(select(Unit.code).order_by(Unit.code))) or "none yet"
        raise NotFound(f"no unit {code!r} (units: {known}; add one with `aduan unit add`)")
    return unit


def list_units(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).order_by(Unit.code)))
