"""Citizens and their addresses on each channel."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from storage import chat_context
from storage.models import Citizen, CitizenIdentity


def identity_for(session: Session, channel: str, external_id: str, *, language: str = "id",
                 now: datetime) -> CitizenIdentity:
    """The identity behind a chat, created with its citizen on first contact (by the
    handling of a message, under the conversation's lock)."""
    read, found = chat_context.take(session, "citizen_identity", channel, external_id)
    if not read:
        found = session.scalar(select(CitizenIdentity).where(CitizenIdentity.channel == channel,
                                                             CitizenIdentity.external_id == external_id)
                               .options(joinedload(CitizenIdentity.citizen)))  # every message needs both
    if found is None:
        # No race to guard against: the caller holds the conversation's lock (a message is
        # handled under it), so no one else creates this chat's identity meanwhile. Should
        # the unique key still object, the message fails whole and its webhook is retried.
        found = CitizenIdentity(channel=channel, external_id=external_id, last_inbound_at=now,
                                citizen=Citizen(language=language, created_at=now))
        session.add(found)
    return found
