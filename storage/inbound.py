"""Inbound messages, recorded once: the provider's id is unique per channel."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage.db import upsert_insert
from storage.models import InboundMessage


def record(session: Session, channel: str, provider_message_id: str, chat_id: str | None,
           payload: dict, now: datetime) -> bool:
    """Store the delivery; False if it was stored before (a retry or a duplicate).
    One statement: INSERT ... ON CONFLICT DO NOTHING, on PostgreSQL and SQLite alike."""
    stored = session.execute(
        upsert_insert(session, InboundMessage)
        .values(channel=channel, provider_message_id=provider_message_id, chat_id=chat_id, payload=payload,
                received_at=now)
        .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
        .returning(InboundMessage.id)).scalar_one_or_none()
    return stored is not None
