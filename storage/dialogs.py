"""Dialog state of each conversation, kept in the database so no restart loses it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage import chat_context
from storage.models import Dialog
from storage.privacy import forget_form

BEGAN = "began"  # a form's state keeps when it began (ISO time): what it echoed is cleared from then

@dataclass(frozen=True)
class Expired:
    """load() result for a dialog that timed out (now deleted); `step` is where it was."""

    step: str | None


def _find(session: Session, channel: str, chat_id: str) -> Dialog | None:
    return session.scalar(select(Dialog).where(Dialog.channel == channel, Dialog.chat_id == chat_id))


def load(session: Session, channel: str, chat_id: str, now: datetime):
    """The state dict, None if there is none, or Expired if it timed out."""
    read, row = chat_context.take(session, "dialog", channel, chat_id)
    if not read:
        row = _find(session, channel, chat_id)
    if row is not None and row.expires_at <= now:
        _forget(session, row, now)
        session.delete(row)
        session.flush()  # gone before save() may add the chat's next dialog (a unique key)
        _loaded(session)[channel, chat_id] = None
        return Expired((row.state or {}).get("step"))
    _loaded(session)[channel, chat_id] = row  # save() in the same transaction needs no query
    return None if row is None else dict(row.state)


def save(session: Session, channel: str, chat_id: str, state: dict | None, now: datetime,
         ttl: timedelta) -> None:
    """Keep `state` for `ttl` from now; None clears it."""
    loaded = _loaded(session)
    row = loaded[channel, chat_id] if (channel, chat_id) in loaded else _find(session, channel, chat_id)
    if state is None:
        if row is not None:
            session.delete(row)
            session.flush()  # gone before a later save() in this transaction adds a new one
        loaded[channel, chat_id] = None
        return
    if row is None:
        row = loaded[channel, chat_id] = Dialog(channel=channel, chat_id=chat_id, state=state,
                                                updated_at=now, expires_at=now + ttl)
        session.add(row)
    else:
        row.state, row.updated_at, row.expires_at = state, now, now + ttl


def _loaded(session: Session) -> dict:
    """The dialog rows this transaction has read or written, by (channel, chat id)."""
    tx = session.get_transaction()
    known = session.info.get("dialogs")
    if known is None or known[0] is not tx:  # a new transaction reads afresh
        known = session.info["dialogs"] = (tx, {})
    return known[1]


def _forget(session: Session, row: Dialog, now: datetime) -> None:
    """A form that expired unsent: the texts it echoed back to its chat go with it."""
    began = (row.state or {}).get(BEGAN)
    if began:
        forget_form(session, row.channel, row.chat_id, datetime.fromisoformat(began), now, office_id=row.office_id)


def purge_expired(session: Session, now: datetime) -> int:
    for row in session.scalars(select(Dialog).where(Dialog.expires_at <= now)):
        _forget(session, row, now)
    return session.execute(delete(Dialog).where(Dialog.expires_at <= now)).rowcount
