"""Officers: invitation codes (single-use, hashed, expiring), enrolment, revocation."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from flows.workflow import Workflow
from storage.errors import InvalidInput, NotFound
from storage.models import Officer, OfficerIdentity, utcnow
from storage.units import unit_by_code

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by hand
DEFAULT_CODE_TTL = timedelta(hours=72)
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
    if workflow.unit_bound(role) and workflow.roles[role].kind == "officer" and not unit_code:
        raise InvalidInput(f"role {role!r} works for a unit: give --unit (see `aduan unit list`)")
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
    return session.scalar(
        select(OfficerIdentity).where(OfficerIdentity.channel == channel, OfficerIdentity.external_id == external_id)
        .options(joinedload(OfficerIdentity.officer)))


def officer_by_identity(session: Session, channel: str, external_id: str) -> Officer | None:
    """The active officer behind a chat identity, or None (revoked officers are None)."""
    return session.scalar(
        select(Officer).join(OfficerIdentity)
        .where(OfficerIdentity.channel == channel, OfficerIdentity.external_id == external_id,
               Officer.active.is_(True))
    )


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
    return officer
