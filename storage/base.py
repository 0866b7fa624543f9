"""The declarative base, and offices: the tenant every other table's rows belong to.

One deployment serves many offices (a province and its regencies, a Diskominfo and its
OPDs). Every table that holds an office's data carries `office_id` (the `OfficeOwned`
mixin); sessions bound to one office see and write only that office's rows
(storage.scoping). The first office (id 1) always exists: migration 0017 made today's
single office into it, and it is the default of every command while there is one.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, ForeignKey, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from storage.types import UTCDateTime

FIRST_OFFICE = 1
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Office(Base):
    """An office: its code (in web addresses and `--office`), its parent (a province over
    its regencies: roll-up reports), and its settings (the config file's office sections,
    as a table: bot.offices resolves them over the file's). The first office's settings
    are the config file's own."""

    __tablename__ = "offices"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OfficeOwned:
    """A table whose rows belong to one office. Unscoped sessions (the tests, the
    deployment-wide loops) write the first office unless told otherwise."""

    @declared_attr
    def office_id(cls) -> Mapped[int]:
        return mapped_column(Integer, ForeignKey("offices.id"), default=FIRST_OFFICE,
                             server_default=str(FIRST_OFFICE), nullable=False)
