"""Inbound messages, recorded once: the provider's id is unique per channel.

What is kept of a delivery is what dedupe and audit need, never the raw payload: the
channel, the provider's id, the chat, the time, and an outline (what kind of event, which
command without its argument, how many files). Why not the raw payload for some hours:
nothing reads it back (the delivery is handled in the same transaction that records it,
handlers.inbound.process), and what it carries is exactly what must not stay readable: the
citizen's name, phone and complaint as typed, an officer's enrolment code (`/petugas
CODE`), the fields of a form the citizen then cancelled. Stored even for an hour, it would
be in the database's backups and write-ahead log. When deliveries are acknowledged first
and handled later (DESIGN, "where this is going"), the payload is kept until the handling
and reduced to this outline in the transaction that marks it handled.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from flows.messages import Inbound
from storage.db import upsert_insert
from storage.models import InboundMessage


def outline(inbound: Inbound | None) -> dict:
    """The audit record of a delivery: no text, no name, no number, no command argument."""
    if inbound is None:
        return {"event": "ignored"}  # an edited message, a group chat, ...: nothing was done
    out: dict = {"event": inbound.event}
    if inbound.command:
        out["command"] = inbound.command[0][:40]
    if inbound.button is not None:
        out["button"] = True
    if inbound.attachments:
        out["attachments"] = [a.kind for a in inbound.attachments][:20]
    return out


def record(session: Session, channel: str, provider_message_id: str, chat_id: str | None,
           payload: dict, now: datetime) -> bool:
    """Store the delivery (`payload`: its outline); False if it was stored before (a retry
    or a duplicate). One statement: INSERT ... ON CONFLICT DO NOTHING, on PostgreSQL and
    SQLite alike."""
    stored = session.execute(
        upsert_insert(session, InboundMessage)
        .values(channel=channel, provider_message_id=provider_message_id, chat_id=chat_id, payload=payload,
                received_at=now)
        .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
        .returning(InboundMessage.id)).scalar_one_or_none()
    return stored is not None
