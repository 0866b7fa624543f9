"""Citizens and their addresses on each channel."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from storage.models import Citizen, CitizenIdentity


def identity_for(session: Session, channel: str, external_id: str, *, language: str = "id",
                 now: datetime) -> CitizenIdentity:
    """The identity behind a chat, created with its citizen on first contact."""
    query = (select(CitizenIdentity).where(CitizenIdentity.channel == channel,
                                           CitizenIdentity.external_id == external_id)
             .options(joinedload(CitizenIdentity.citizen)))  # every message needs both
    found = session.scalar(query)
    if found is not None:
        return found
    try:
        with session.begin_nested():  # another process may create it at the same moment
            found = CitizenIdentity(channel=channel, external_id=external_id,
                                    citizen=Citizen(language=language, created_at=now))
            session.add(found)
    except IntegrityError:
        found = session.scalar(query)
    return found
