"""An office's sessions see and write that office's rows only, in one place.

A session made for an office (`office_sessions`) carries the office in `session.info`.
Every ORM statement it runs (SELECT, and the bulk UPDATE and DELETE of the ORM, also the
lazy loads of relationships) gets `office_id = <office>` on every office-owned table in
it (`with_loader_criteria`, SQLAlchemy's global-criteria recipe), and every new object it
flushes is stamped with the office; an object of another office refuses to flush. So no
repository can forget the office, and no handler needs to know there are several.

What this cannot see: Core statements on a table or a connection (`Table.insert()`,
`text()`), which take the office from `office_of(session)` themselves, and sessions made
without an office (the deployment-wide loops, which read across offices and then work in
each office's own session).
"""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria
from sqlalchemy.orm.path_registry import PathRegistry

from storage.base import FIRST_OFFICE, OfficeOwned

OFFICE = "office_id"  # the session.info key


class CrossOffice(Exception):
    """A write of one office's row through another office's session."""


def office_sessions(engine: Engine, office_id: int) -> sessionmaker[Session]:
    """Sessions that belong to one office."""
    return sessionmaker(engine, expire_on_commit=False, info={OFFICE: office_id})


def office_of(session: Session) -> int:
    """The office a session belongs to (an unscoped session: the first office)."""
    return session.info.get(OFFICE) or FIRST_OFFICE


def scoped_to(session: Session) -> int | None:
    return session.info.get(OFFICE)


@lru_cache(maxsize=1024)
def _criteria(office_id: int):
    # One option per office, made once: making it anew for every statement had SQLAlchemy
    # analyse the lambda and its closure each time (as long as the query it scoped).
    return with_loader_criteria(OfficeOwned, lambda cls: cls.office_id == office_id, include_aliases=True)


def as_loaded(obj, office_id: int) -> None:
    """An object made from a row read outside the ORM (storage.chat_context): its lazy
    loads carry the office's criteria, as those of an object a scoped query loaded do (the
    hook below leaves relationship loads alone for that reason)."""
    state = inspect(obj)
    state.load_options = (_criteria(office_id),)
    state.load_path = PathRegistry.root[state.mapper]


@event.listens_for(Session, "do_orm_execute")
def _only_this_office(state: ORMExecuteState) -> None:
    office_id = state.session.info.get(OFFICE)
    if office_id is None or not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the criteria came along from the statement that loaded the object
    state.statement = state.statement.options(_criteria(office_id))


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, _context, _instances) -> None:
    office_id = session.info.get(OFFICE)
    if office_id is None:
        return
    for obj in session.new:
        if isinstance(obj, OfficeOwned):
            if obj.office_id is None:
                obj.office_id = office_id
            elif obj.office_id != office_id:
                raise CrossOffice(f"a {type(obj).__name__} of office {obj.office_id} in office {office_id}'s session")
    for obj in session.dirty:
        if isinstance(obj, OfficeOwned) and obj.office_id != office_id:
            raise CrossOffice(f"a {type(obj).__name__} of office {obj.office_id} changed in office {office_id}'s session")
