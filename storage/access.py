"""Access codes: a citizen comes back to a case from any chat with `/status TICKET CODE`.

The code is given once at submission (in the confirmation and the first email) and only
its hash is kept on the case. 8 characters from an alphabet without 0/O and 1/I (they are
typed from an email or a note): 32^8, about 10^12 codes, which the throttle below makes
far out of reach of guessing.

Throttle: wrong codes are rows here, counted over the last hour, per guesser (a chat's
citizen) and per ticket as typed. Per guesser is the citizen's limit; per ticket bounds
someone who opens a fresh web chat for every few guesses. Unknown tickets count exactly
like wrong codes, so neither the answer nor the throttle tells which tickets exist.
The database rather than Redis: the count is written in the same transaction as the
reply, under the conversation's lock (no race within a chat), it survives a restart of
the embedded in-process Redis (which would hand out a fresh budget), and the handlers
need no Redis client for it. Rows older than the hour are deleted as we go.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from storage.models import AccessAttempt, Case

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LENGTH = 8
WINDOW = timedelta(hours=1)
PER_GUESSER = 5  # wrong codes an hour from one chat: room for typos, not for guessing
PER_TICKET = 20  # wrong codes an hour for one ticket, from all chats together


class Throttled(Exception):
    """Too many wrong codes lately; nothing was checked."""


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def _normal(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def code_hash(ticket: str, code: str) -> str:
    # The ticket salts it: one code hashes differently on every case.
    return hashlib.sha256(f"{ticket.upper()}:{_normal(code)}".encode()).hexdigest()


def open_with_code(session: Session, ticket: str, code: str, who: str, now: datetime) -> Case | None:
    """The case if `code` is its access code, else None (and the miss is counted).
    Raises Throttled, without looking at the code, once `who` or `ticket` had too many
    misses in the last hour."""
    ticket = ticket.strip().upper()[:40]
    since = now - WINDOW
    session.execute(delete(AccessAttempt).where(AccessAttempt.at < since))
    mine = session.scalar(select(func.count()).select_from(AccessAttempt)
                          .where(AccessAttempt.who == who, AccessAttempt.at >= since))
    theirs = session.scalar(select(func.count()).select_from(AccessAttempt)
                            .where(AccessAttempt.ticket == ticket, AccessAttempt.at >= since))
    if mine >= PER_GUESSER or theirs >= PER_TICKET:
        raise Throttled()
    case = session.scalar(select(Case).where(Case.ticket == ticket).options(selectinload(Case.events)))
    expected = case.access_code_hash if case is not None else None
    if expected and hmac.compare_digest(expected, code_hash(ticket, code)):
        return case
    session.add(AccessAttempt(who=who[:100], ticket=ticket, at=now))
    session.flush()
    return None
