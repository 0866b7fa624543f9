"""The satisfaction survey's table (kept apart from storage.models, which imports it)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, OfficeOwned, utcnow
from storage.types import UTCDateTime

ELEMENT_COLUMNS = tuple(f"u{n}" for n in range(1, 10))  # flows.ikm.ELEMENTS' keys
PROFILE_COLUMNS = ("age_group", "sex", "education", "occupation")


class SurveyResponse(OfficeOwned, Base):
    """One respondent's SKM answers (PermenPAN-RB 14/2017), from /survei or after a rating:
    the service and unit rated, the optional profile (codes of flows.skm) and the nine
    elements 1-4 (None: skipped). The citizen is kept for their rights (export, erasure)
    and the one-a-day rule, never for the reports, which count."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        Index("ix_survey_responses_created", "created_at"),  # reports by period
        Index("ix_survey_responses_citizen", "citizen_id", "created_at"),  # one a day; export
        *(CheckConstraint(f"{u} IS NULL OR {u} BETWEEN 1 AND 4", name=u) for u in ELEMENT_COLUMNS),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="SET NULL"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    service: Mapped[str | None] = mapped_column(String(60))  # a category id; None: not said
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # the case's unit
    age_group: Mapped[str | None] = mapped_column(String(10))
    sex: Mapped[str | None] = mapped_column(String(1))
    education: Mapped[str | None] = mapped_column(String(10))
    occupation: Mapped[str | None] = mapped_column(String(20))
    u1: Mapped[int | None] = mapped_column(SmallInteger)
    u2: Mapped[int | None] = mapped_column(SmallInteger)
    u3: Mapped[int | None] = mapped_column(SmallInteger)
    u4: Mapped[int | None] = mapped_column(SmallInteger)
    u5: Mapped[int | None] = mapped_column(SmallInteger)
    u6: Mapped[int | None] = mapped_column(SmallInteger)
    u7: Mapped[int | None] = mapped_column(SmallInteger)
    u8: Mapped[int | None] = mapped_column(SmallInteger)
    u9: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
