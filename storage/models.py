"""The tables. Times are UTC (UTCDateTime); texts shown to people live in flows/handlers."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, SmallInteger, String, Text,
    UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import FIRST_OFFICE, NAMING, Base, Office, OfficeOwned, utcnow  # noqa: F401  (re-exported)

from storage.types import UTCDateTime

if TYPE_CHECKING:
    from storage.models_duties import Duty


class Unit(OfficeOwned, Base):
    """A work unit (unit kerja / OPD) cases are forwarded to."""

    __tablename__ = "units"
    # Codes are looked up ignoring case (storage.units), so they are unique ignoring case.
    __table_args__ = (Index("uq_units_office_code_lower", "office_id", text("lower(code)"), unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Citizen(OfficeOwned, Base):
    __tablename__ = "citizens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    language: Mapped[str] = mapped_column(String(5), default="id")
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    identities: Mapped[list[CitizenIdentity]] = relationship(back_populates="citizen")


class CitizenIdentity(OfficeOwned, Base):
    """A citizen's address on one channel (Telegram chat id, WhatsApp number, web visitor)."""

    __tablename__ = "citizen_identities"
    __table_args__ = (UniqueConstraint("office_id", "channel", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the citizen blocked the bot
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # WhatsApp 24 h window
    citizen: Mapped[Citizen] = relationship(back_populates="identities")


class Officer(OfficeOwned, Base):
    __tablename__ = "officers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(60))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(5), default="id")
    enrol_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrol_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unit: Mapped[Unit | None] = relationship()
    identities: Mapped[list[OfficerIdentity]] = relationship(back_populates="officer")


class OfficerIdentity(OfficeOwned, Base):
    __tablename__ = "officer_identities"
    __table_args__ = (UniqueConstraint("office_id", "channel", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # WhatsApp 24 h window
    # Set when the link was made with a code typed in that chat. Links on the web chat from
    # before codes were checked there have none: until the officer confirms them from another
    # of their chats (handlers.inbound), they get nothing of a case.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    officer: Mapped[Officer] = relationship(back_populates="identities")


class TicketCounter(OfficeOwned, Base):
    """The last ticket number given out in a year (ADU-2025-000123)."""

    __tablename__ = "ticket_counters"
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True, default=FIRST_OFFICE)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(OfficeOwned, Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("office_id", "ticket"),  # ticket numbers are per office
        Index("ix_cases_state_updated", "state", "updated_at"),
        Index("ix_cases_citizen", "citizen_id"),
        Index("ix_cases_created", "created_at"),  # reports by period
        Index("ix_cases_escalated", "escalated_at"),
        # The daily purge finds closed cases not yet anonymised without reading the others.
        Index("ix_cases_to_anonymise", "closed_at", postgresql_where=text("anonymised_at IS NULL"),
              sqlite_where=text("anonymised_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(30))
    category: Mapped[str | None] = mapped_column(String(60))
    channel: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    privacy: Mapped[str] = mapped_column(String(10), default="biasa")
    state: Mapped[str] = mapped_column(String(60))
    workflow: Mapped[str] = mapped_column(String(80))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="SET NULL"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    lapor_tracking_id: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(5), default="id")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    access_code_hash: Mapped[str | None] = mapped_column(String(64))  # /status TICKET CODE (storage.access)
    # Personal data and texts removed (storage.privacy): past retention, or erased on request.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    citizen: Mapped[Citizen | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", viewonly=True
    )
    deadlines: Mapped[list[Deadline]] = relationship(
        back_populates="case", order_by="Deadline.id", viewonly=True
    )
    __mapper_args__ = {"version_id_col": version}


class CaseEvent(OfficeOwned, Base):
    """Append-only audit trail: who did what to a case, when, from which state to which."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_to_state", "to_state", "case_id", "at"),)  # follow-up figures
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_role: Mapped[str | None] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(60))
    from_state: Mapped[str | None] = mapped_column(String(60))
    to_state: Mapped[str | None] = mapped_column(String(60))
    note: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=True)  # shown to the citizen
    case: Mapped[Case] = relationship(back_populates="events")


class Attachment(OfficeOwned, Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(20))
    media_type: Mapped[str] = mapped_column(String(20))  # photo, document, voice, location
    provider_ref: Mapped[str | None] = mapped_column(Text)  # Telegram file_id or Twilio media URL
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(Integer)
    filename: Mapped[str | None] = mapped_column(String(200))  # as the citizen's file was named
    stored_path: Mapped[str | None] = mapped_column(Text)  # set when the worker has fetched it
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    fetch_error: Mapped[str | None] = mapped_column(Text)  # why it could not be fetched
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# A case's clock belongs to its case; a duty's to its duty row.
DEADLINE_KINDS = ("(kind IN ('stage', 'escalation') AND case_id IS NOT NULL AND duty_id IS NULL)"
                  " OR (kind = 'duty' AND case_id IS NULL AND duty_id IS NOT NULL)")


class Deadline(OfficeOwned, Base):
    """The clock of one stage of one case (or of the case's escalation, or of a periodic
    duty: kind "duty", no case, `stage` the duty's id).

    A row is opened when a case enters a stage with an SLA and completed when it
    leaves. `paused_seconds` is counted in the SLA's own way (office or wall-clock
    seconds; for working days, the days paused as office time after the unpaused due
    time: flows.stage_clock) and moves `due_at`; `next_remind_at` is when the next reminder threshold
    falls, so the scheduler finds due work with an index instead of a scan.
    """

    __tablename__ = "deadlines"
    __table_args__ = (
        Index("ix_deadlines_open_remind", "completed_at", "next_remind_at"),
        Index("ix_deadlines_open_due", "completed_at", "due_at"),
        # What the scheduler reads every tick, in the order it reads them: only open
        # clocks are indexed, so "the next 200 due" stops after 200 index entries.
        Index("ix_deadlines_remind_open", "next_remind_at", postgresql_where=text("completed_at IS NULL"),
              sqlite_where=text("completed_at IS NULL")),
        Index("ix_deadlines_due_open", "due_at", postgresql_where=text("completed_at IS NULL AND breached_at IS NULL"),
              sqlite_where=text("completed_at IS NULL AND breached_at IS NULL")),
        CheckConstraint(DEADLINE_KINDS, name="kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    duty_id: Mapped[int | None] = mapped_column(ForeignKey("duties.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="stage")
    stage: Mapped[str] = mapped_column(String(60))
    sla: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_seconds: Mapped[float] = mapped_column(default=0.0)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    thresholds: Mapped[list] = mapped_column(JSON, default=list)  # e.g. [0.5, 0.8, 1.0]
    fired: Mapped[list] = mapped_column(JSON, default=list)  # thresholds already reminded
    case: Mapped[Case | None] = relationship(back_populates="deadlines")
    duty: Mapped[Duty | None] = relationship(back_populates="deadline")


class Reminder(OfficeOwned, Base):
    """One reminder threshold of one stage clock, claimed once (the unique key)."""

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("deadline_id", "threshold"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id", ondelete="CASCADE"))
    threshold: Mapped[float] = mapped_column()
    status: Mapped[str] = mapped_column(String(12))  # sent | suppressed (a later one went instead)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduledRun(OfficeOwned, Base):
    """A periodic job (a digest, a monthly report) done once for its key (e.g. a date)."""

    __tablename__ = "scheduled_runs"
    __table_args__ = (UniqueConstraint("office_id", "job", "run_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(60))
    run_key: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Outbox(OfficeOwned, Base):
    """Every outgoing message, until the provider has accepted it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "status", "next_attempt_at"),
        Index("ix_outbox_chat", "office_id", "channel", "chat_id", "id"),
        # Housekeeping clears delivered texts after privacy.outbox_text_days: only rows still
        # holding one are indexed, so each round reads what is due and no more.
        Index("ix_outbox_to_clear", "created_at", postgresql_where=text("cleared_at IS NULL"),
              sqlite_where=text("cleared_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    payload: Mapped[dict] = mapped_column(JSON)  # text, buttons, media
    purpose: Mapped[str | None] = mapped_column(String(40))  # picks a WhatsApp template
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending/sent/failed/held
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    provider_status: Mapped[str | None] = mapped_column(String(30))
    template_sid: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # text removed (storage.privacy)


class AccessAttempt(OfficeOwned, Base):
    """A wrong access code (/status TICKET CODE) or enrolment code (ticket "enrol", see
    storage.officers), kept an hour to throttle guessing."""

    __tablename__ = "access_attempts"
    __table_args__ = (
        Index("ix_access_attempts_who", "who", "at"),
        Index("ix_access_attempts_ticket", "ticket", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    who: Mapped[str] = mapped_column(String(100))  # "citizen:<id>": the one guessing
    ticket: Mapped[str] = mapped_column(String(40))  # as typed: unknown tickets count the same
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class InboundMessage(OfficeOwned, Base):
    """Every webhook delivery that was accepted, once (the provider's id is unique); the
    queue of what is still to handle (handled_at NULL), in id order per chat."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("office_id", "channel", "provider_message_id"),
                      Index("ix_inbound_messages_pending", "office_id", "channel", "chat_id", "id",
                            postgresql_where=text("handled_at IS NULL"), sqlite_where=text("handled_at IS NULL")),
                      # the head of each office's queue (storage.inbound.pending_chats)
                      Index("ix_inbound_messages_waiting", "office_id", "id",
                            postgresql_where=text("handled_at IS NULL"), sqlite_where=text("handled_at IS NULL")))
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(100))
    chat_id: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # failed attempts
    set_aside_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a poison message, given up on


class ChatSession(OfficeOwned, Base):
    """A browser's session on a channel whose identity is a cookie (the web chat): the
    cookie carries the chat id and a nonce, only its hash is kept. Rotating the nonce
    leaves the chat id, and with it the conversation's rows, where they are; ending the
    session makes the chat id unusable for good."""

    __tablename__ = "chat_sessions"
    __table_args__ = (UniqueConstraint("office_id", "channel", "chat_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    nonce_hash: Mapped[str | None] = mapped_column(String(64))
    previous_hash: Mapped[str | None] = mapped_column(String(64))  # valid a few seconds after a rotation
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    level: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # storage.chat_sessions
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Dialog(OfficeOwned, Base):
    """A conversation's half-filled form or menu position, durable across restarts."""

    __tablename__ = "dialogs"
    __table_args__ = (UniqueConstraint("office_id", "channel", "chat_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    state: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Rating(OfficeOwned, Base):
    """The citizen's verdict on a case (its SKM answers are survey_responses since 0015)."""

    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint("score IS NULL OR score BETWEEN 1 AND 5", name="score"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    solved: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    skm: Mapped[dict | None] = mapped_column(JSON)  # no longer written; kept for a downgrade of 0015
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class PrivacyRequest(OfficeOwned, Base):
    """A citizen's request, from the chat (/hapus), to have their data erased; done when an
    admin confirms it with `aduan privacy erase`. It names the citizen by id only: the
    chat address is read from their identities while it exists."""

    __tablename__ = "privacy_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="erase")
    channel: Mapped[str] = mapped_column(String(20))  # where it was asked
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str | None] = mapped_column(String(200))  # the admin who confirmed it


# Tables kept in modules of their own, on the same metadata: imported here so that whoever
# reads Base.metadata (Alembic, the tests' cleanup) sees them. Module imports, not names:
# either module may be imported first.
import storage.models_duties  # noqa: E402,F401
import storage.models_survey  # noqa: E402,F401

import storage.models_backoffice  # noqa: E402,F401
