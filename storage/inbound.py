"""Inbound messages, recorded once: the provider's id is unique per channel."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import InboundMessage


def record(session: Session, channel: str, provider_message_id: str, chat_id: str | None,
           payload: dict, now: datetime) -> bool:
    """Store the delivery; False if it was stored before (a retry or a duplicate)."""
    exists = select(InboundMessage.id).where(InboundMessage.channel == channel,
                                             InboundMessage.provider_message_id == provider_message_id)
    if session.scalar(exists) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(InboundMessage(channel=channel, provider_message_id=provider_message_id,
                                       chat_id=chat_id, payload=payload, received_at=now))
    except IntegrityError:  # a concurrent copy won the race
        return False
    return True
