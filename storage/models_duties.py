"""The periodic duties' table (kept apart from storage.models, which imports it): one row
per duty and period, its clock a `deadlines` row of kind "duty"."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models import Base, OfficeOwned, Deadline, utcnow  # noqa: F401  (Deadline: the relationship's other side)
from storage.types import UTCDateTime


class Duty(OfficeOwned, Base):
    """One period of a workflow's periodic duty (the monthly report for 2025-04), opened
    once when the period has ended (the unique key), with its clock in `deadlines`."""

    __tablename__ = "duties"
    __table_args__ = (UniqueConstraint("office_id", "duty", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    duty: Mapped[str] = mapped_column(String(60))  # the workflow's [[periodic]] id
    period: Mapped[str] = mapped_column(String(7))  # "2025-04" or "2025"
    role: Mapped[str] = mapped_column(String(60))  # the actor when it opened
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id", ondelete="SET NULL"))
    done_by: Mapped[str | None] = mapped_column(String(200))  # the name recorded
    done_via: Mapped[str | None] = mapped_column(String(10))  # chat | web | cli
    deadline: Mapped[Deadline | None] = relationship(back_populates="duty", uselist=False)
