"""Work units (unit kerja / OPD).

A code is kept as it was added ("KEU") and found ignoring case ("keu", "Keu"): officers
type it in chat. Two codes that differ only in case cannot both exist (a unique index
on lower(code) backs this up).
"""
from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.errors import InvalidInput, NotFound
from storage.models import Case, Officer, Unit

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


def _find(session: Session, code: str) -> Unit | None:
    return session.scalar(select(Unit).where(func.lower(Unit.code) == code.strip().lower()))


def add_unit(session: Session, code: str, name: str) -> Unit:
    code = code.strip()
    if not _CODE.match(code):
        raise InvalidInput(f"unit code {code!r}: use 1-40 letters, digits, '-' or '_'",
                           key="error.unit_code", code=code[:40])
    if not name.strip():
        raise InvalidInput("unit name is empty", key="error.unit_name")
    if (same := _find(session, code)) is not None:
        raise InvalidInput(f"unit {same.code!r} already exists (codes are the same ignoring case)",
                           key="error.unit_exists", code=same.code)
    unit = Unit(code=code, name=name.strip())
    session.add(unit)
    session.flush()
    return unit


def unit_by_code(session: Session, code: str) -> Unit:
    unit = _find(session, code)
    if unit is None:
        known = ", ".join(session.scalars(select(Unit.code).order_by(Unit.code)))
        raise NotFound(f"no unit {code!r} (units: {known or 'none yet'}; add one with `aduan unit add`)",
                       key="error.no_unit" if known else "error.no_units", code=code[:40], units=known)
    return unit


def list_units(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).order_by(Unit.code)))


def rename_unit(session: Session, code: str, name: str) -> Unit:
    """A new name for a unit; its code, cases and officers stay."""
    unit = unit_by_code(session, code)
    if not name.strip():
        raise InvalidInput("unit name is empty", key="error.unit_name")
    unit.name = name.strip()
    session.flush()
    return unit


def remove_unit(session: Session, code: str) -> Unit:
    """Remove a unit nothing refers to. A unit with cases or officers stays: its cases'
    history and reports name it, and its officers would lose their unit."""
    unit = unit_by_code(session, code)
    cases = session.scalar(select(func.count()).select_from(Case).where(Case.unit_id == unit.id))
    officers = session.scalar(select(func.count()).select_from(Officer).where(Officer.unit_id == unit.id))
    if cases or officers:
        raise InvalidInput(
            f"unit {unit.code} has {cases} case(s) and {officers} officer(s) and cannot be removed; "
            "rename it with `aduan unit rename` instead, or move its officers first",
            key="error.unit_in_use", code=unit.code, cases=cases, officers=officers)
    session.delete(unit)
    session.flush()
    return unit
