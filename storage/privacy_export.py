"""A citizen's own data, for their right of access (UU 27/2022): what we hold about them,
as plain data (the CLI writes it as JSON). Only what is theirs: their profile and chat
addresses, their cases with the history they were shown, their ratings, their survey
answers, and what is known of their files (not the officers' internal notes, nor who the
officers are)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Attachment, Case, CaseEvent, Citizen, CitizenIdentity, PrivacyRequest, Rating
from storage.models_survey import ELEMENT_COLUMNS, PROFILE_COLUMNS, SurveyResponse


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def citizen_data(session: Session, citizen: Citizen, now: datetime) -> dict:
    identities = session.scalars(select(CitizenIdentity).where(CitizenIdentity.citizen_id == citizen.id)
                                 .order_by(CitizenIdentity.id))
    cases = session.scalars(select(Case).where(Case.citizen_id == citizen.id).order_by(Case.id)).all()
    requests = session.scalars(select(PrivacyRequest).where(PrivacyRequest.citizen_id == citizen.id)
                               .order_by(PrivacyRequest.id))
    return {
        "exported_at": now.isoformat(),
        "profile": {"name": citizen.name, "email": citizen.email, "phone": citizen.phone,
                    "language": citizen.language, "consent_at": _iso(citizen.consent_at),
                    "first_contact_at": _iso(citizen.created_at)},
        "identities": [{"channel": i.channel, "id": i.external_id, "last_message_at": _iso(i.last_inbound_at),
                        "blocked_bot_at": _iso(i.blocked_at)} for i in identities],
        "cases": [case_data(session, c) for c in cases],
        "surveys": surveys(session, citizen),
        "requests": [{"kind": r.kind, "requested_at": _iso(r.requested_at), "channel": r.channel,
                      "done_at": _iso(r.done_at)} for r in requests],
    }


def case_data(session: Session, case: Case) -> dict:
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.public.is_(True))
                             .order_by(CaseEvent.id))
    ratings = session.scalars(select(Rating).where(Rating.case_id == case.id).order_by(Rating.id))
    files = session.scalars(select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id))
    return {
        "ticket": case.ticket, "kind": case.kind, "category": case.category, "channel": case.channel,
        "privacy": case.privacy, "state": case.state, "text": case.text, "language": case.language,
        "created_at": _iso(case.created_at), "closed_at": _iso(case.closed_at),
        "anonymised_at": _iso(case.anonymised_at),
        "history": [{"at": _iso(e.at), "by": e.actor_type, "action": e.action, "from": e.from_state,
                     "to": e.to_state, "note": e.note} for e in events],
        "ratings": [{"at": _iso(r.created_at), "solved": r.solved, "score": r.score, "comment": r.comment}
                    for r in ratings],
        "attachments": [{"kind": a.media_type, "content_type": a.content_type, "size": a.size,
                         "filename": a.filename, "received_at": _iso(a.created_at),
                         "stored": a.stored_path is not None} for a in files],
    }


def surveys(session: Session, citizen: Citizen) -> list[dict]:
    """Their SKM answers (codes of flows.skm; elements 1-4, None where skipped)."""
    rows = session.execute(select(SurveyResponse, Case.ticket).outerjoin(Case, Case.id == SurveyResponse.case_id)
                           .where(SurveyResponse.citizen_id == citizen.id).order_by(SurveyResponse.id))
    return [{"at": _iso(r.created_at), "channel": r.channel, "service": r.service, "ticket": ticket,
             "profile": {c: getattr(r, c) for c in PROFILE_COLUMNS},
             "answers": {u: getattr(r, u) for u in ELEMENT_COLUMNS}} for r, ticket in rows]
