"""Officers: invitation codes (single-use, hashed, expiring), enrolment, revocation."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from flows.workflow import Workflow
from storage import chat_context
from storage.errors import InvalidInput, NotFound
from storage.models import AccessAttempt, Officer, OfficerIdentity, utcnow
from storage.units import unit_by_code
from storage.web_sessions import end_all

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by hand
DEFAULT_CODE_TTL = timedelta(hours=72)
# Enrolment guesses. 12 characters of 32 are 60 bits, out of reach of guessing even at
# the 2,500 a minute one chat could try, but nothing should be free: wrong codes are
# counted over the last hour per chat, and per client address where the channel has one
# (the web chat, where a fresh cookie is a fresh chat). They are rows of access_attempts
# (storage.access), marked by their ticket: a typed ticket is upper case, never this.
ENROL_WINDOW = timedelta(hours=1)
ENROL_PER_CHAT = 5  # room for typos, not for guessing
ENROL_PER_ORIGIN = 20  # one address may be an office's NAT: a little more room
_ENROL_MARK = "enrol"
LINK_CODE_TTL = timedelta(minutes=10)  # asked for in one chat, typed in the other at once


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").upper().encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return "-".join(raw[i:i + 4] for i in range(0, 12, 4))


def invite(session: Session, workflow: Workflow, role: str, unit_code: str | None = None,
           name: str | None = None, ttl: timedelta = DEFAULT_CODE_TTL,
           now: datetime | None = None) -> tuple[Officer, str]:
    """Create a not-yet-enrolled officer; return it with the code (shown once, kept hashed)."""
    if role not in workflow.roles:
        raise InvalidInput(
            f"role {role!r} is not a role of workflow {workflow.name!r} "
            f"(roles: {', '.join(workflow.roles)})"
        )
    if workflow.unit_bound(role) and not unit_code:
        # Without a unit the officer's cases would not be narrowed to any: they would see
        # every unit's cases (liaisons too, which once slipped through here).
        raise InvalidInput(
            f"role {role!r} ({workflow.roles[role].label_en}) works for a unit in workflow "
            f"{workflow.name!r}: give --unit CODE (see `aduan unit list`); a {workflow.roles[role].kind} "
            "of the whole agency is declared so in the workflow (scope = \"agency\")")
    if ttl <= timedelta(0):
        raise InvalidInput("the code's lifetime must be positive")
    unit = unit_by_code(session, unit_code) if unit_code else None
    code = _new_code()
    now = now or utcnow()
    officer = Officer(name=name, role=role, unit=unit, active=True, enrol_code_hash=_hash(code),
                      enrol_expires_at=now + ttl, created_at=now)
    session.add(officer)
    session.flush()
    return officer, code


def redeem(session: Session, code: str, channel: str, external_id: str,
           now: datetime | None = None) -> Officer:
    """Link a chat identity to the officer the code was made for; the code then dies."""
    now = now or utcnow()
    officer = session.scalar(select(Officer).where(Officer.enrol_code_hash == _hash(code.strip())))
    if officer is None or not officer.active:
        raise NotFound("this code is not valid")
    if officer.enrol_expires_at is not None and officer.enrol_expires_at < now:
        raise InvalidInput("this code has expired; ask the admin for a new one")
    taken = session.scalar(select(OfficerIdentity).where(
        OfficerIdentity.channel == channel, OfficerIdentity.external_id == external_id))
    if taken is not None and taken.officer_id != officer.id:
        raise InvalidInput("this chat is already linked to an officer")
    if taken is not None:  # the officer's own unconfirmed link: the code confirms it
        taken.confirmed_at = taken.last_inbound_at = now
    else:
        # The officer writes from this chat now: their WhatsApp window opens with this message.
        session.add(OfficerIdentity(officer=officer, channel=channel, external_id=external_id,
                                    last_inbound_at=now, confirmed_at=now))
    officer.enrol_code_hash = None
    officer.enrol_expires_at = None
    officer.enrolled_at = officer.enrolled_at or now
    session.flush()
    return officer


def enrol_guessers(channel: str, external_id: str, origin: str | None) -> dict[str, int]:
    """Who a guess counts against, each with its hourly limit."""
    found = {f"enrol:{channel}:{external_id}"[:100]: ENROL_PER_CHAT}
    if origin:
        found[f"enrol-from:{origin}"[:100]] = ENROL_PER_ORIGIN
    return found


def enrol_throttled(session: Session, guessers: dict[str, int], now: datetime) -> bool:
    """Whether any of `guessers` had its limit of wrong codes in the last hour."""
    since = now - ENROL_WINDOW
    session.execute(delete(AccessAttempt).where(AccessAttempt.ticket == _ENROL_MARK, AccessAttempt.at < since))
    for who, limit in guessers.items():
        wrong = session.scalar(select(func.count()).select_from(AccessAttempt).where(
            AccessAttempt.who == who, AccessAttempt.ticket == _ENROL_MARK, AccessAttempt.at >= since))
        if wrong >= limit:
            return True
    return False


def count_wrong_enrolment(session: Session, guessers: dict[str, int], now: datetime) -> None:
    for who in guessers:
        session.add(AccessAttempt(who=who, ticket=_ENROL_MARK, at=now))
    session.flush()
def officer_for_code(session: Session, code: str) -> Officer | None:
    """The officer a code was made for, without using the code."""
    return session.scalar(select(Officer).where(Officer.enrol_code_hash == _hash(code.strip()))
                          .options(selectinload(Officer.identities)))


def link_code(session: Session, officer: Officer, now: datetime, ttl: timedelta = LINK_CODE_TTL) -> str:
    """A code for an enrolled officer to link one more chat (typed there with /petugas)."""
    code = _new_code()
    officer.enrol_code_hash, officer.enrol_expires_at = _hash(code), now + ttl
    session.flush()
    return code


def linked_identity(session: Session, channel: str, external_id: str) -> OfficerIdentity | None:
    """The officer identity behind a chat (with its officer, active or revoked)."""
    read, found = chat_context.take(session, "officer_identity", channel, external_id)
    if read:
        return found
    return session.scalar(
        select(OfficerIdentity).where(OfficerIdentity.channel == channel, OfficerIdentity.external_id == external_id)
        .options(joinedload(OfficerIdentity.officer)))


def list_officers(session: Session) -> list[Officer]:
    return list(session.scalars(
        select(Officer).options(selectinload(Officer.identities), selectinload(Officer.unit))
        .order_by(Officer.id)
    ))


def revoke(session: Session, officer_id: int, now: datetime | None = None) -> Officer:
    officer = session.get(Officer, officer_id)
    if officer is None:
        raise NotFound(f"no officer #{officer_id}")
    if not officer.active:
        raise InvalidInput(f"officer #{officer_id} is already revoked")
    officer.active = False
    officer.revoked_at = now or utcnow()
    officer.enrol_code_hash = None  # an unused code dies with the officer
    session.flush()
    end_all(session, officer.id, officer.revoked_at)  # signed in on the web: out at once
    return officer
