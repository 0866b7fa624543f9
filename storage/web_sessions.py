"""Officers' sign-in to the web back office, without passwords, and their web sessions.

Two ways in, each one-time and alive `ttl` (minutes): a link an officer asks for in an
enrolled chat (`/masuk`), or a code a sign-in page shows that the officer types in chat
(`/masuk CODE`): the page's browser, holding the nonce it was given with the code, is
then signed in. A session's cookie holds a random token; only hashes are stored. A
session ends on sign-out, when its officer is revoked (storage.officers.revoke), after
`idle` without a request, and at `expires_at` whatever happens.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, joinedload

from storage.models import Officer
from storage.models_backoffice import WebSession, WebSignIn

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # typed by hand: no 0/O, 1/I
KEEP_ENDED = timedelta(days=30)  # ended sessions are kept a while (who was signed in when), then go
SEEN_EVERY = timedelta(minutes=1)  # a session's last-seen time is written at most this often


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _code_digest(code: str) -> str:
    return digest(code.replace("-", "").replace(" ", "").upper())


def _purge(session: Session, now: datetime) -> None:
    """What can never be used again goes (each new sign-in sweeps a little)."""
    session.execute(delete(WebSignIn).where(WebSignIn.expires_at < now - timedelta(hours=1)))
    session.execute(delete(WebSession).where(or_(WebSession.expires_at < now - KEEP_ENDED,
                                                 WebSession.ended_at < now - KEEP_ENDED)))


def new_link(session: Session, officer: Officer, now: datetime, ttl: timedelta) -> str:
    """A one-time token for a sign-in link, for an officer who asked in an enrolled chat."""
    _purge(session, now)
    token = secrets.token_urlsafe(32)
    session.add(WebSignIn(kind="link", secret_hash=digest(token), officer_id=officer.id, created_at=now,
                          expires_at=now + ttl))
    session.flush()
    return token


def link_officer(session: Session, token: str, now: datetime) -> Officer | None:
    """The active officer a live, unused link is for (nothing is used up)."""
    row = _live(session, "link", digest(token or ""), now)
    return _active(session, row.officer_id) if row is not None else None


def use_link(session: Session, token: str, now: datetime) -> Officer | None:
    """Use a link up; the officer it signs in, or None (unknown, used, expired, revoked)."""
    row = _live(session, "link", digest(token or ""), now)
    officer = _active(session, row.officer_id) if row is not None else None
    if officer is None:
        return None
    row.used_at = now
    return officer


def new_code(session: Session, now: datetime, ttl: timedelta) -> tuple[str, str]:
    """(code to show, nonce for the browser that shows it) of a page sign-in."""
    _purge(session, now)
    while True:
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        code = f"{raw[:4]}-{raw[4:]}"
        if _live(session, "code", _code_digest(code), now) is None:
            break
    nonce = secrets.token_urlsafe(32)
    session.add(WebSignIn(kind="code", secret_hash=_code_digest(code), browser_hash=digest(nonce),
                          created_at=now, expires_at=now + ttl))
    session.flush()
    return code, nonce


def confirm_code(session: Session, officer: Officer, code: str, now: datetime) -> bool:
    """An officer typed a page's code in their chat: that page's browser may sign in as them."""
    row = _live(session, "code", _code_digest(code or ""), now)
    if row is None or row.confirmed_at is not None:
        return False
    row.officer_id, row.confirmed_at = officer.id, now
    return True


def claim_code(session: Session, nonce: str, now: datetime) -> Officer | None | bool:
    """The waiting browser asks: its officer once confirmed (the sign-in is then used up),
    None while waiting, False when its sign-in is gone (expired, used, unknown)."""
    row = session.scalar(select(WebSignIn).where(WebSignIn.kind == "code", WebSignIn.browser_hash == digest(nonce or "")))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return False
    if row.confirmed_at is None:
        return None
    officer = _active(session, row.officer_id)
    row.used_at = now
    return officer if officer is not None else False


def _live(session: Session, kind: str, secret_hash: str, now: datetime) -> WebSignIn | None:
    return session.scalar(select(WebSignIn).where(WebSignIn.kind == kind, WebSignIn.secret_hash == secret_hash,
                                                  WebSignIn.used_at.is_(None), WebSignIn.expires_at > now))


def _active(session: Session, officer_id: int | None) -> Officer | None:
    officer = session.get(Officer, officer_id) if officer_id else None
    return officer if officer is not None and officer.active and officer.revoked_at is None else None


def open_session(session: Session, officer: Officer, via: str, now: datetime, max_age: timedelta,
                 language: str | None = None) -> str:
    """A new web session for an officer; the token for its cookie (shown nowhere else)."""
    token = secrets.token_urlsafe(32)
    session.add(WebSession(officer_id=officer.id, token_hash=digest(token), via=via,
                           language=language or officer.language or "id", created_at=now, seen_at=now,
                           expires_at=now + max_age))
    session.flush()
    return token


def resolve(session: Session, token: str, now: datetime, idle: timedelta) -> WebSession | None:
    """The live session of a cookie's token, with its officer (still active); its last-seen
    time moved on. None: no such session, ended, idle too long, too old, officer revoked."""
    if not token:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == digest(token))
                         .options(joinedload(WebSession.officer)))
    if row is None or row.ended_at is not None or row.expires_at <= now or row.seen_at + idle <= now:
        return None
    if not row.officer.active or row.officer.revoked_at is not None:
        row.ended_at = now
        return None
    if now - row.seen_at >= SEEN_EVERY:
        row.seen_at = now
    return row


def end(session: Session, token: str, now: datetime) -> None:
    session.execute(update(WebSession).where(WebSession.token_hash == digest(token or ""),
                                             WebSession.ended_at.is_(None)).values(ended_at=now))


def end_all(session: Session, officer_id: int, now: datetime) -> int:
    """End every web session of an officer (revoked); unused sign-ins of theirs die too."""
    session.execute(delete(WebSignIn).where(WebSignIn.officer_id == officer_id, WebSignIn.used_at.is_(None)))
    result = session.execute(update(WebSession).where(WebSession.officer_id == officer_id,
                                                      WebSession.ended_at.is_(None)).values(ended_at=now))
    return result.rowcount or 0
