"""Personal data through its life (DESIGN; UU 27/2022): what goes, and what stays.

A case past `privacy.retention_years` after it closed, or erased on a citizen's request,
keeps what the reports count: kind, category, channel, unit, privacy option, state and
times, its events (times, states, actor roles, without notes), ratings' scores,
attachments' kinds and sizes, deadlines. What says who the citizen is or what
anyone wrote goes: the complaint text, event notes, rating comments, attachments' files,
references and names, the access code, outbox texts about the case; then, once the
citizen has no case left that keeps them, their name, email, phone, chat addresses
(identities), dialogs, the records of their chats' deliveries and the texts sent there.

Survey answers (survey_responses) are counted, never shown, and name the citizen only for
their rights: past retention, or when the citizen is forgotten, the link goes and the
answers stay in the figures; erased on request, the answers go too.

Files are not touched here (storage does no file I/O): the result lists the stored paths
and web chat uploads, and the caller deletes them before it commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

from sqlalchemy import Text, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from flows.case_fields import ActorType
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import (
    AccessAttempt, Attachment, Case, CaseEvent, ChatSession, Citizen, CitizenIdentity, Deadline, Dialog,
    InboundMessage, Outbox, PrivacyRequest, Rating,
)
from storage.models_survey import SurveyResponse
from storage.outbox import FAILED, HELD, PENDING, SENT
from storage.scoping import office_of

ERASED = "-"  # stands in for an address in a row that must keep one (a NOT NULL column)
KEPT_IN_OUTBOX = ("buttons", "meta", "wants_files")  # no personal data; last_question reads buttons


@dataclass
class Counts:
    """What a purge or an erasure did: counts only, safe to print and log."""

    cases: int = 0
    citizens: int = 0
    identities: int = 0
    notes: int = 0
    comments: int = 0
    attachments: int = 0
    inbound: int = 0
    outbox: int = 0
    dialogs: int = 0
    surveys: int = 0  # survey responses erased, or no longer linked to their citizen
    files: list[str] = field(default_factory=list)  # stored copies, for the caller to delete
    uploads: list[str] = field(default_factory=list)  # web chat upload refs not yet fetched
    case_ids: list[int] = field(default_factory=list)  # their folders of files go whole

    def summary(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not isinstance(getattr(self, f.name), list)}

    def merge(self, other: "Counts") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def cleared(payload: dict) -> dict:
    """An outbox payload without its text, media or links; its buttons stay (a typed "1"
    still answers the chat's last question) and its meta (ticket, language) too."""
    return {"text": "", **{k: payload[k] for k in KEPT_IN_OUTBOX if k in (payload or {})}}


def _clear_outbox(session: Session, where, now: datetime, address: bool = False) -> int:
    """Clear the rows `where` selects; what was not sent yet will not be (it said what is
    being erased). `address`: the chat id is the person's (their chat); an email row's
    always is (the address)."""
    n = 0
    for row in session.scalars(select(Outbox).where(where)):
        row.payload, row.cleared_at = cleared(row.payload), now
        if row.status in (PENDING, HELD):
            row.status, row.error = FAILED, "erased"
        if address or row.channel == "email":
            row.chat_id = ERASED
        n += 1
    return n


# -- one case -----------------------------------------------------------------------------
def anonymise_case(session: Session, case: Case, now: datetime, counts: Counts, *,
                   action: str = "anonymised", actor: ActorType = ActorType.SYSTEM,
                   note: str | None = None) -> None:
    """Remove the case's texts and files; leave a history line saying so (`note`: who
    erased it and why, never the data)."""
    counts.notes += session.execute(update(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.note.is_not(None)).values(note=None)).rowcount
    counts.comments += session.execute(update(Rating).where(
        Rating.case_id == case.id, Rating.comment.is_not(None)).values(comment=None)).rowcount
    for a in session.scalars(select(Attachment).where(Attachment.case_id == case.id)):
        if a.stored_path:
            counts.files.append(a.stored_path)
        if a.channel == "webchat" and (a.provider_ref or "").startswith("upload:") and not a.stored_path:
            counts.uploads.append(a.provider_ref)
        # No reference left: the fetcher (which needs one) will not fetch it afterwards.
        a.provider_ref = a.filename = a.stored_path = None
        a.fetch_error = None if a.fetched_at else "erased"
        counts.attachments += 1
    # Replies to an officer's command (a case card: the reporter's name, contacts and the
    # complaint) are queued without a case id; they name the ticket. Only rows still
    # holding a text are read (an index keeps those), not the whole outbox.
    about = Outbox.case_id.is_(None) & Outbox.cleared_at.is_(None) & cast(Outbox.payload, Text).contains(case.ticket)
    counts.outbox += _clear_outbox(session, (Outbox.case_id == case.id) | about, now)
    case.text, case.access_code_hash, case.anonymised_at = "", None, now
    counts.case_ids.append(case.id)
    session.add(CaseEvent(case_id=case.id, at=now, actor_type=actor, actor_role=actor.value,
                          action=action, note=note, public=False))
    counts.cases += 1


# -- one citizen ---------------------------------------------------------------------------
def forget_citizen(session: Session, citizen: Citizen, now: datetime, counts: Counts, *,
                   keep_addresses: bool = False) -> None:
    """Remove the citizen's personal data. `keep_addresses`: they still talk to the office
    (the purge keeps the chat they use, not what they told us for old cases)."""
    if citizen.email:
        counts.outbox += _clear_outbox(session, (Outbox.channel == "email") & (Outbox.chat_id == citizen.email),
                                       now, address=True)
    citizen.name = citizen.email = citizen.phone = None
    if keep_addresses:
        return
    identities = list(session.scalars(select(CitizenIdentity).where(CitizenIdentity.citizen_id == citizen.id)))
    for i in identities:
        counts.dialogs += session.execute(delete(Dialog).where(
            Dialog.channel == i.channel, Dialog.chat_id == i.external_id)).rowcount
        # A web chat browser's session names the chat too; without it an old cookie starts afresh.
        session.execute(delete(ChatSession).where(ChatSession.channel == i.channel,
                                                  ChatSession.chat_id == i.external_id))
        for row in session.scalars(select(InboundMessage).where(
                InboundMessage.channel == i.channel, InboundMessage.chat_id == i.external_id)):
            # Dedupe needs the provider's id only while a retry can come (minutes); an id
            # that carries the chat address (the web chat's) becomes the row's own.
            if i.external_id in row.provider_message_id:
                row.provider_message_id = f"erased:{row.id}"
            row.chat_id, row.payload = None, {}
            counts.inbound += 1
        counts.outbox += _clear_outbox(session, (Outbox.channel == i.channel) & (Outbox.chat_id == i.external_id),
                                       now, address=True)
    session.execute(delete(AccessAttempt).where(AccessAttempt.who == f"citizen:{citizen.id}"))
    # Nothing of theirs is left to erase: a request still open is done by this.
    session.execute(update(PrivacyRequest).where(
        PrivacyRequest.citizen_id == citizen.id, PrivacyRequest.done_at.is_(None))
        .values(done_at=now, done_by="retention"))
    session.execute(update(PrivacyRequest).where(PrivacyRequest.citizen_id == citizen.id)
                    .values(citizen_id=None))
    counts.identities += session.execute(delete(CitizenIdentity).where(
        CitizenIdentity.citizen_id == citizen.id)).rowcount
    session.execute(update(Case).where(Case.citizen_id == citizen.id).values(citizen_id=None))
    counts.surveys += session.execute(update(SurveyResponse).where(SurveyResponse.citizen_id == citizen.id)
                                      .values(citizen_id=None)).rowcount
    session.execute(delete(Citizen).where(Citizen.id == citizen.id))
    for obj in identities + [citizen]:
        session.expunge(obj)
    counts.citizens += 1


def _still_needed(session: Session, citizen_id: int) -> bool:
    """A case that is not anonymised still needs its citizen."""
    return session.scalar(select(func.count()).select_from(Case).where(
        Case.citizen_id == citizen_id, Case.anonymised_at.is_(None))) > 0


# -- retention -----------------------------------------------------------------------------
def purge_batch(session: Session, cut: datetime, now: datetime, limit: int = 100) -> Counts:
    """Anonymise up to `limit` cases closed before `cut` (not done yet), and forget their
    citizens once nothing keeps them. Idempotent: done cases are never read again."""
    counts = Counts()
    cases = list(session.scalars(select(Case).where(
        Case.closed_at.is_not(None), Case.closed_at < cut, Case.anonymised_at.is_(None))
        .order_by(Case.closed_at).limit(limit).with_for_update(skip_locked=True)))
    citizens = {c.citizen_id for c in cases if c.citizen_id is not None}
    # Survey answers past retention keep their figures, not whose they were.
    counts.surveys += session.execute(update(SurveyResponse).where(
        SurveyResponse.citizen_id.is_not(None), SurveyResponse.created_at < cut).values(citizen_id=None)).rowcount
    for case in cases:
        anonymise_case(session, case, now, counts)
        case.citizen_id = None  # the figures stay; whose they were does not
    session.flush()
    for citizen_id in sorted(citizens):
        citizen = session.get(Citizen, citizen_id)
        if citizen is None or _still_needed(session, citizen_id):
            continue
        recent = session.scalar(select(func.max(CitizenIdentity.last_inbound_at)).where(
            CitizenIdentity.citizen_id == citizen_id))
        forget_citizen(session, citizen, now, counts, keep_addresses=recent is not None and recent >= cut)
    return counts


# -- on request ----------------------------------------------------------------------------
def citizen_by_address(session: Session, address: str) -> Citizen:
    """`CHANNEL:ID` (telegram:12345, whatsapp:+628..., webchat:w-...) -> the citizen."""
    channel, _, external_id = address.partition(":")
    if not channel or not external_id:
        raise InvalidInput(f"{address!r} is not CHANNEL:ID (e.g. telegram:12345)")
    identity = session.scalar(select(CitizenIdentity).where(
        CitizenIdentity.channel == channel.strip().lower(), CitizenIdentity.external_id == external_id.strip()))
    if identity is None:
        raise NotFound(f"no citizen at {channel}:{external_id}")
    return identity.citizen


def citizen_of_request(session: Session, request_id: int) -> Citizen:
    request = session.get(PrivacyRequest, request_id)
    if request is None:
        raise NotFound(f"no request #{request_id}")
    if request.done_at is not None or request.citizen_id is None:
        raise Conflict(f"request #{request_id} is done already")
    return session.get(Citizen, request.citizen_id)


def tickets_of(session: Session, citizen: Citizen | None, case: Case | None) -> list[str]:
    """The tickets an erasure would touch (for the confirmation question)."""
    if citizen is None:
        return [case.ticket] if case is not None else []
    return list(session.scalars(select(Case.ticket).where(Case.citizen_id == citizen.id).order_by(Case.id)))


def erase(session: Session, cases_service, *, citizen: Citizen | None, case: Case | None, by: str,
          reason: str, now: datetime, force: bool = False) -> Counts:
    """Erase a citizen (all their cases) or, for a case without a citizen, that case.
    Open cases are refused unless `force`; forced, they end in the workflow's closed state
    with an `erased` event (the history says why they stopped)."""
    counts = Counts()
    cases = (list(session.scalars(select(Case).where(Case.citizen_id == citizen.id).order_by(Case.id)))
             if citizen is not None else [case])
    cases = [c for c in cases if c.anonymised_at is None]
    still_open = [c for c in cases if c.closed_at is None]
    if still_open and not force:
        raise Conflict(f"open cases: {', '.join(c.ticket for c in still_open)}; "
                       "close them first or erase with --force (they end closed, marked erased)")
    note = f"erased by {by}: {reason}"[:1000]
    # Their survey answers go with them: the citizen's own, and those about the cases erased.
    mine = [SurveyResponse.case_id.in_([c.id for c in cases])]
    if citizen is not None:
        mine.append(SurveyResponse.citizen_id == citizen.id)
    counts.surveys += session.execute(delete(SurveyResponse).where(or_(*mine))).rowcount
    for c in cases:
        action = "erased"
        if c.closed_at is None:
            _end(session, cases_service.workflow_of(c), c, note, now)
            action = "erased_closed"
        anonymise_case(session, c, now, counts, action=action, actor=ActorType.ADMIN, note=note)
    if citizen is not None:
        session.execute(update(PrivacyRequest).where(
            PrivacyRequest.citizen_id == citizen.id, PrivacyRequest.done_at.is_(None))
            .values(done_at=now, done_by=by[:200]))
        session.flush()
        forget_citizen(session, citizen, now, counts)
    return counts


def _end(session: Session, wf, case: Case, note: str, now: datetime) -> None:
    final = "closed" if "closed" in wf.states and wf.states["closed"].final else \
        next(s for s, d in wf.states.items() if d.final)
    session.add(CaseEvent(case_id=case.id, at=now, actor_type=ActorType.ADMIN, actor_role="admin",
                          action="erase", from_state=case.state, to_state=final, public=False))
    case.state, case.closed_at, case.updated_at = final, now, now
    session.execute(update(Deadline).where(Deadline.case_id == case.id, Deadline.completed_at.is_(None))
                    .values(completed_at=now, next_remind_at=None))


# -- requests from the chat (/hapus) ------------------------------------------------------
def request_erasure(session: Session, citizen: Citizen, channel: str, now: datetime) -> tuple[PrivacyRequest, bool]:
    """Record a request (once: a pending one is returned again); (the request, new?)."""
    pending = session.scalar(select(PrivacyRequest).where(
        PrivacyRequest.citizen_id == citizen.id, PrivacyRequest.done_at.is_(None)))
    if pending is not None:
        return pending, False
    request = PrivacyRequest(citizen_id=citizen.id, kind="erase", channel=channel, requested_at=now)
    session.add(request)
    session.flush()
    return request, True


def pending_requests(session: Session) -> list[dict]:
    """The requests an admin has not confirmed yet, with what the admin needs to do it."""
    out = []
    for r in session.scalars(select(PrivacyRequest).where(PrivacyRequest.done_at.is_(None))
                             .order_by(PrivacyRequest.id)):
        tickets = list(session.scalars(select(Case.ticket).where(Case.citizen_id == r.citizen_id)
                                       .order_by(Case.id))) if r.citizen_id else []
        out.append({"id": r.id, "requested_at": r.requested_at, "channel": r.channel, "tickets": tickets})
    return out


# -- keeping less, all the time -------------------------------------------------------------
def clear_delivered(session: Session, cut: datetime, now: datetime, limit: int = 1000) -> int:
    """Clear the texts of outbox rows delivered (or given up) before `cut`. Rows still to
    be sent keep theirs. At most `limit` a call: a backlog is worked off round by round."""
    delivered = func.coalesce(Outbox.sent_at, Outbox.created_at)
    rows = session.scalars(select(Outbox).where(
        Outbox.cleared_at.is_(None), Outbox.created_at < cut, Outbox.status.in_((SENT, FAILED)),
        delivered < cut).order_by(Outbox.created_at).limit(limit)).all()
    for row in rows:
        row.payload, row.cleared_at = cleared(row.payload), now
    return len(rows)


def forget_form(session: Session, channel: str, chat_id: str, since: datetime | None, now: datetime,
                office_id: int | None = None) -> int:
    """A complaint form was cancelled or expired: what it echoed back to the chat since it
    began (the name, email, phone saved, the summary) is cleared now. Rows not delivered
    yet keep their text until they are (the chat has yet to see them). `office_id`: the
    form's office, for a session that is not the office's own (the same Telegram chat id
    is one person on every office's bot: another office's messages to them stay)."""
    if since is None:
        return 0
    office = office_id if office_id is not None else office_of(session)
    return _clear_outbox(session, (Outbox.office_id == office) & (Outbox.channel == channel)
                         & (Outbox.chat_id == str(chat_id))
                         & (Outbox.created_at >= since) & Outbox.cleared_at.is_(None)
                         & or_(Outbox.status == SENT, Outbox.status == FAILED), now)
