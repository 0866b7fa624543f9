"""One inbound message, in one transaction: the inbound row (once), the conversation's
changes, and every reply as an outbox row."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from flows.messages import Inbound
from handlers.citizen import CitizenConversation
from storage import inbound as inbound_log
from storage.outbox import enqueue


def process(session: Session, conversation: CitizenConversation, channel: str,
            provider_message_id: str, inbound: Inbound | None, raw: dict, now: datetime) -> bool:
    """Handle a delivery; False (and no effect) if it was handled before."""
    chat_id = inbound.chat_id if inbound is not None else None
    if not inbound_log.record(session, channel, provider_message_id, chat_id, raw, now):
        return False
    if inbound is None:
        return True  # recorded; nothing to do (an edited message, a group chat, …)
    for reply in conversation.handle(session, inbound, now):
        enqueue(session, inbound.channel, inbound.chat_id, reply, now=now)
    return True
