"""Sessions of a channel whose only proof of who writes is a browser cookie (the web chat).

The cookie names a chat id and carries a nonce; the row keeps the nonce's hash. Why a
nonce and not a new chat id: every row of a conversation (identity, dialog, outbox, the
inbound log, officer links) is keyed by the chat id, and moving them all while the page
polls would race; a new nonce makes every copy of the old cookie useless just the same.

- `rotate_if_raised`: a new nonce when the chat gains rights (the citizen consented, an
  officer linked or confirmed the chat), so a cookie planted or copied before is dead.
- `end`: the person pressed "end session": the chat id can never be used again, an
  officer link on it is removed and nothing more is sent to it.
- A session unseen for `lifetime` is over too, whatever its cookie says.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage.models import ChatSession, Citizen, CitizenIdentity, Dialog, OfficerIdentity, Outbox
from storage.outbox import FAILED, PENDING

GRACE = timedelta(seconds=10)  # the page's requests already in flight when the nonce changed
SEEN_EVERY = timedelta(hours=1)  # how often "last seen" is written (not at every poll)
NONE, CITIZEN, OFFICER, CONFIRMED_OFFICER = 0, 1, 2, 3


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)


def start(session: Session, channel: str, chat_id: str, now: datetime) -> str:
    """A new session for a new chat id; returns the nonce for the cookie."""
    nonce = secrets.token_urlsafe(24)
    session.add(ChatSession(channel=channel, chat_id=chat_id, nonce_hash=_hash(nonce), created_at=now,
                            seen_at=now, level=level(session, channel, chat_id)))
    session.flush()
    return nonce


def resolve(session: Session, channel: str, chat_id: str, nonce: str | None, now: datetime,
            lifetime: timedelta) -> bool:
    """Whether this cookie's chat id and nonce name a live session."""
    row = session.scalar(select(ChatSession).where(ChatSession.channel == channel, ChatSession.chat_id == chat_id))
    if row is None or row.ended_at is not None or row.seen_at < now - lifetime or not nonce:
        return False
    given = _hash(nonce)
    fresh = _same(given, row.nonce_hash)
    if not fresh and not (_same(given, row.previous_hash) and row.rotated_at and row.rotated_at > now - GRACE):
        return False
    if row.seen_at < now - SEEN_EVERY:
        row.seen_at = now
    return True


def adopt(session: Session, channel: str, chat_id: str, now: datetime) -> str | None:
    """A cookie from before sessions had nonces: its chat id gets a session once, if it
    never had one (an ended one is never revived). The new nonce, or None."""
    if session.scalar(select(ChatSession.id).where(ChatSession.channel == channel,
                                                   ChatSession.chat_id == chat_id)) is not None:
        return None
    return start(session, channel, chat_id, now)


def level(session: Session, channel: str, chat_id: str) -> int:
    """What the chat may do: nothing yet, a citizen who consented, an officer (linked but
    not confirmed), a confirmed officer."""
    link = session.scalar(select(OfficerIdentity).where(OfficerIdentity.channel == channel,
                                                        OfficerIdentity.external_id == chat_id))
    if link is not None:
        return CONFIRMED_OFFICER if link.confirmed_at is not None else OFFICER
    consented = session.scalar(select(Citizen.consent_at).join(CitizenIdentity).where(
        CitizenIdentity.channel == channel, CitizenIdentity.external_id == chat_id))
    return CITIZEN if consented is not None else NONE


def rotate_if_raised(session: Session, channel: str, chat_id: str, now: datetime) -> str | None:
    """A new nonce if the chat gained rights since the last look (the old one stays valid for
    `GRACE`, for requests already on their way); None if nothing changed."""
    row = session.scalar(select(ChatSession).where(ChatSession.channel == channel, ChatSession.chat_id == chat_id)
                         .with_for_update())
    if row is None or row.ended_at is not None:
        return None
    now_level = level(session, channel, chat_id)
    if now_level <= row.level:
        return None
    nonce = secrets.token_urlsafe(24)
    row.level, row.previous_hash, row.nonce_hash, row.rotated_at = now_level, row.nonce_hash, _hash(nonce), now
    return nonce


def end(session: Session, channel: str, chat_id: str, now: datetime) -> None:
    """Forget the session: its chat id is dead, an officer link on it goes, a half-filled
    form goes, and the citizen's address there is marked unreachable (their cases stay,
    with the email follow-ups and /status TICKET CODE)."""
    row = session.scalar(select(ChatSession).where(ChatSession.channel == channel, ChatSession.chat_id == chat_id)
                         .with_for_update())
    if row is None:
        row = ChatSession(channel=channel, chat_id=chat_id, created_at=now, seen_at=now)
        session.add(row)
    row.ended_at, row.nonce_hash, row.previous_hash = now, None, None
    session.execute(delete(OfficerIdentity).where(OfficerIdentity.channel == channel,
                                                  OfficerIdentity.external_id == chat_id))
    session.execute(delete(Dialog).where(Dialog.channel == channel, Dialog.chat_id == chat_id))
    identity = session.scalar(select(CitizenIdentity).where(CitizenIdentity.channel == channel,
                                                            CitizenIdentity.external_id == chat_id))
    if identity is not None:
        identity.blocked_at = now
    # What waited for the page will never be fetched: say so on the rows (email follow-ups
    # of the citizen's cases are other rows and still go).
    session.execute(update(Outbox).where(Outbox.channel == channel, Outbox.chat_id == chat_id,
                                         Outbox.status == PENDING)
                    .values(status=FAILED, error="the visitor ended the web chat session"))
    session.flush()
