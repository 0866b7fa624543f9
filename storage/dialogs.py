"""Dialog state of each conversation, kept in the database so no restart loses it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import Dialog

@dataclass(frozen=True)
class Expired:
    """load() result for a dialog that timed out (now deleted); `step` is where it was."""

    step: str | None


def load(session: Session, channel: str, chat_id: str, now: datetime):
    """The state dict, None if there is none, or Expired if it timed out."""
    row = session.scalar(select(Dialog).where(Dialog.channel == channel, Dialog.chat_id == chat_id))
    if row is None:
        return None
    if row.expires_at <= now:
        step = (row.state or {}).get("step")
        session.delete(row)
        return Expired(step)
    return dict(row.state)


def save(session: Session, channel: str, chat_id: str, state: dict | None, now: datetime,
         ttl: timedelta) -> None:
    """Keep `state` for `ttl` from now; None clears it."""
    row = session.scalar(select(Dialog).where(Dialog.channel == channel, Dialog.chat_id == chat_id))
    if state is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        row = Dialog(channel=channel, chat_id=chat_id, state=state, updated_at=now,
                     expires_at=now + ttl)
        session.add(row)
    else:
        row.state, row.updated_at, row.expires_at = state, now, now + ttl


def purge_expired(session: Session, now: datetime) -> int:
    return session.execute(delete(Dialog).where(Dialog.expires_at <= now)).rowcount
