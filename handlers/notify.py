"""Who hears about what, through the outbox.

- A new case: the coordinators and the officers' group chat, with the ticket number,
  kind and category only (never names, phone numbers or the complaint); in a burst
  (more than `office.new_case_burst` in a minute) one summary instead.
- Officers only on their confirmed chats: a web chat link nobody confirmed from a chat
  app is only a cookie.
- A disposition: the liaison and officers of that unit.
- A citizen-visible transition: the citizen, in their language, with what happened
  and what comes next.
- What a citizen adds or decides: the officers holding the case (and, for a verdict,
  the officer who answered), saying what happened and whose move it is.
- An escalation: the leadership.
- Every update for a citizen also goes to their email, when they gave one and the office
  sends email (the form says the address is for follow-ups). Web chat citizens need it
  most: a closed tab cannot be reached. Never group or officer notices.
"""
from __future__ import annotations

import logging

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from flows.i18n import t, when
from flows.messages import Button, Reply, rows
from flows.workflow import TransitionDef
from storage.models import Case, CaseEvent, Citizen, CitizenIdentity, Officer, OfficerIdentity, Rating
from storage.outbox import enqueue, held_count
from storage.visibility import may_see
from handlers.office import Office
from handlers.words import label, verdict_buttons

log = logging.getLogger(__name__)
BURST_WINDOW = timedelta(minutes=1)


def officers_in(session: Session, roles: list[str], unit_id: int | None = None) -> list[Officer]:
    """The active officers holding one of `roles` (of one unit, if given)."""
    query = (select(Officer).where(Officer.active.is_(True), Officer.role.in_(roles))
             .options(selectinload(Officer.identities)))
    if unit_id is not None:
        query = query.where(Officer.unit_id == unit_id)
    return list(session.scalars(query))


def send_to_officer(session, officer: Officer, reply: Reply, case: Case | None, now) -> None:
    # Not to a web chat link nobody confirmed from a chat app: it is only a cookie.
    for identity in (i for i in officer.identities if i.confirmed_at is not None):
        enqueue(session, identity.channel, identity.external_id, reply,
                case_id=case.id if case else None, purpose="officer", now=now)


def _send_officers(session, officers: list[Officer], make, case: Case | None, now) -> None:
    for officer in officers:
        send_to_officer(session, officer, make(officer.language), case, now)


def send_to_citizen(session, case: Case, reply: Reply, now, purpose: str = "case_update",
                    known: dict | None = None, email: bool = False, wants_reply: bool = False,
                    email_text: str | None = None) -> None:
    """To every address of the case's citizen that has not blocked the bot, and (`email`:
    the office sends email) to their email address. Nobody answers by email: `wants_reply`
    (the case waits on the citizen) makes the email say where to answer, and `email_text`
    replaces a text that says "reply here"."""
    reachable = [i for i in citizen_of(session, case, known) if i.blocked_at is None]
    for identity in reachable:
        enqueue(session, identity.channel, identity.external_id, reply, case_id=case.id,
                purpose=purpose, now=now)
    if email:
        send_email(session, case, Reply(email_text or reply.text, reply.buttons), now, purpose,
                   [i.channel for i in reachable], wants_reply)


def send_email(session, case: Case, reply: Reply, now, purpose: str, chats: list[str],
               wants_reply: bool = False) -> None:
    """The reply as an email row (chat id: the address). The email channel renders the
    buttons as text; `reply_on` says in which chat they can be answered."""
    citizen = session.get(Citizen, case.citizen_id) if case.citizen_id is not None else None
    if citizen is None or not citizen.email:
        return
    reply_on = case.channel if case.channel in chats else next(iter(chats), None)
    meta = {"ticket": case.ticket, "lang": case.language, "reply_on": reply_on, "wants_reply": wants_reply,
            "has_code": case.access_code_hash is not None}
    enqueue(session, "email", citizen.email, Reply(reply.text, reply.buttons, meta=meta),
            case_id=case.id, purpose=purpose, now=now)


def welcome_email(session, office: Office, case: Case, code: str, now) -> None:
    """The first email of a case: the ticket, the access code (its only other showing is
    the confirmation in the chat) and the next step."""
    if not office.email:
        return
    lang = case.language
    lines = [t(lang, "email.received", ticket=case.ticket, office=office.name)]
    clock = office.cases.open_deadline(session, case)
    if clock is not None:
        st = office.cases.workflow_of(case).states[case.state]
        step = (st.step_id if lang == "id" else st.step_en) or st.label_id
        lines.append(t(lang, "submitted_next", step=step, due=when(office.calendar, clock.due_at, lang)))
    lines.append(t(lang, "email.code", ticket=case.ticket, code=code))
    chats = [i.channel for i in citizen_of(session, case) if i.blocked_at is None]
    send_email(session, case, Reply("\n".join(lines)), now, "case_opened", chats)


def card_button(lang: str, ticket: str) -> tuple:
    return rows(Button(t(lang, "officer.button.open", ticket=ticket), f"k|{ticket}"))


def new_case(session: Session, office: Office, case: Case, group_chat_id: int | None, now,
             recorded_by: int | None = None) -> None:
    wf = office.cases.workflow_of(case)
    coordinators = [r for r in wf.roles_of_kind("coordinator")]

    def text(lang):
        category = _category(office, case, lang)
        return t(lang, "notify.new_case" if category else "notify.new_case_plain", ticket=case.ticket,
                 kind=t(lang, f"kind.{case.kind}"), channel=t(lang, f"channel.{case.channel}"),
                 **({"category": category} if category else {}))

    told = [o for o in officers_in(session, coordinators) if o.id != recorded_by]
    # A burst (a flood of spam, or a busy morning) would bury every other notice under one
    # message per case: past `new_case_burst` in a minute, one summary, then quiet while
    # the burst lasts; the cases are all in /antrian.
    recent = session.scalar(select(func.count()).select_from(Case).where(Case.created_at > now - BURST_WINDOW))
    if recent > office.new_case_burst:
        if recent == office.new_case_burst + 1:
            _send_officers(session, told, lambda lang: Reply(t(lang, "notify.new_cases_burst", count=recent)),
                           None, now)
            if group_chat_id is not None:
                enqueue(session, "telegram", str(group_chat_id),
                        Reply(t("id", "notify.new_cases_burst", count=recent)), purpose="group", now=now)
        return
    _send_officers(session, told, lambda lang: Reply(text(lang), card_button(lang, case.ticket)), case, now)
    if group_chat_id is not None:  # a group: the ticket, kind and category, nothing personal
        enqueue(session, "telegram", str(group_chat_id), Reply(text("id")), case_id=case.id,
                purpose="group", now=now)


def erasure_requested(session: Session, office: Office, request_id: int, tickets: list[str], now) -> None:
    """A citizen asked to have their data erased: the coordinators hear the request's
    number and the tickets, and how an admin confirms it (no name, no chat address)."""
    roles = office.workflow.roles_of_kind("coordinator")

    def text(lang):
        return t(lang, "notify.erase_request", id=request_id,
                 tickets=", ".join(tickets) or t(lang, "notify.erase_no_tickets"))
    _send_officers(session, officers_in(session, roles), lambda lang: Reply(text(lang)), None, now)


def _category(office: Office, case: Case, lang: str) -> str | None:
    """The case's category label; None without one (the notice then leaves it out)."""
    for c in office.categories:
        if c.id == case.category:
            return c.label_id if lang == "id" else c.label_en
    return case.category


def disposed(session: Session, office: Office, case: Case, now) -> None:
    wf = office.cases.workflow_of(case)
    roles = wf.roles_of_kind("liaison") + wf.roles_of_kind("officer")
    _send_officers(session, officers_in(session, roles, case.unit_id),
                   lambda lang: Reply(t(lang, "notify.disposed", ticket=case.ticket,
                                        unit=case.unit.name if case.unit else "-"),
                                      card_button(lang, case.ticket)), case, now)


def holders(session: Session, office: Office, case: Case, cache: dict | None = None) -> list[Officer]:
    """The officers whose move it is now (unit-bound roles: only the case's unit). `cache`
    keeps the officers of each set of roles for a batch of cases in one transaction."""
    wf = office.cases.workflow_of(case)
    actors = [r for r in wf.states[case.state].actors if r in wf.roles]
    if not actors:  # waiting on the citizen: whoever may act from here
        actors = sorted({r for tr in wf.transitions_from(case.state) for r in tr.roles if r in wf.roles})
    if cache is None:
        candidates = officers_in(session, actors)
    elif (candidates := cache.get(tuple(actors))) is None:
        candidates = cache[tuple(actors)] = officers_in(session, actors)
    return [officer for officer in candidates if may_see(wf, officer, case)]


def citizen_added(session: Session, office: Office, case: Case, now) -> None:
    _send_officers(session, holders(session, office, case),
                   lambda lang: Reply(t(lang, "notify.citizen_added", ticket=case.ticket),
                                      card_button(lang, case.ticket)), case, now)


def escalated(session: Session, office: Office, case: Case, reason: str, now) -> None:
    wf = office.cases.workflow_of(case)
    _send_officers(session, officers_in(session, wf.roles_of_kind("leadership")),
                   lambda lang: Reply(t(lang, "notify.escalated", ticket=case.ticket, reason=reason),
                                      card_button(lang, case.ticket)), case, now)


def citizen_of(session: Session, case: Case, known: dict | None = None) -> list[CitizenIdentity]:
    """The case's citizen's addresses; `known` (from addresses_of) saves a query per case."""
    if case.citizen_id is None:
        return []
    if known is not None:
        return known.get(case.citizen_id, [])
    return list(session.scalars(select(CitizenIdentity).where(CitizenIdentity.citizen_id == case.citizen_id)))


def addresses_of(session: Session, citizen_ids) -> dict[int, list[CitizenIdentity]]:
    """The addresses of many citizens in one query, for a batch of notifications."""
    found: dict[int, list[CitizenIdentity]] = {}
    for identity in session.scalars(select(CitizenIdentity).where(CitizenIdentity.citizen_id.in_(set(citizen_ids)))):
        found.setdefault(identity.citizen_id, []).append(identity)
    return found


def latest_answer(session: Session, case: Case) -> str | None:
    """The last text an officer gave the citizen on this case (the answer being judged)."""
    return session.scalar(select(CaseEvent.note).where(
        CaseEvent.case_id == case.id, CaseEvent.actor_type == "officer", CaseEvent.public.is_(True),
        CaseEvent.note.is_not(None)).order_by(CaseEvent.id.desc()).limit(1))


def transition(session: Session, office: Office, case: Case, tr: TransitionDef, note: str | None, now,
               by_citizen: bool = False) -> None:
    """Tell the officers concerned, and the citizen what happened and what comes next
    (citizen-visible states only; never the citizen about their own move)."""
    wf = office.cases.workflow_of(case)
    st = wf.states[case.state]
    if tr.needs == "unit":
        disposed(session, office, case, now)
    if by_citizen:
        citizen_moved(session, office, case, tr, note, now)
    if not st.citizen_visible or by_citizen:
        return
    lang = case.language
    lines = [t(lang, "notify.transition", ticket=case.ticket, state=label(st, lang))]
    if explain := (st.explain_id if lang == "id" else st.explain_en):
        lines.append(explain)
    answerable = wf.awaits_verdict(case.state)
    shown = note if note and tr.note_public else None
    if shown is None and answerable:
        # The verdict is asked about the answer, so the answer comes with the question,
        # also when it was given a step earlier (bps-kaltim: /jawab, then /selesai).
        shown = latest_answer(session, case)
    if shown:
        kind = "question" if st.pause_clock else "answer" if answerable else "reason"
        lines.append(t(lang, f"notify.note.{kind}", note=shown))
    buttons: tuple = ()
    clock = office.cases.open_deadline(session, case)
    if st.final:
        lines.append(t(lang, "status.final"))
    elif clock is not None and clock.paused_at is None:
        step = (st.step_id if lang == "id" else st.step_en) or st.label_id
        key = "status.next_waiting" if "citizen" in st.actors else "status.next"
        lines.append(t(lang, key, step=step, due=when(office.calendar, clock.due_at, lang)))
    if answerable:
        lines.append(t(lang, "notify.solved_question"))
        buttons = verdict_buttons(lang, case.ticket)
    email_text = "\n".join(lines)  # an email cannot be answered: it says where instead
    if st.pause_clock:
        lines.append(t(lang, "notify.reply_here"))
    send_to_citizen(session, case, Reply("\n".join(lines), buttons), now, email=office.email,
                    wants_reply=st.pause_clock, email_text=email_text)



def held_for_officer(session: Session, office: Office, channel: str, chat_id: str, now) -> None:
    """A message to an officer could not go (WhatsApp's 24-hour window is closed and no
    approved template is set): say so on the officer's other chats, once until it goes.
    With no other chat, the next digest says it (digests.daily)."""
    identity = session.scalar(select(OfficerIdentity).where(OfficerIdentity.channel == channel,
                                                            OfficerIdentity.external_id == chat_id))
    if identity is None or held_count(session, [(channel, chat_id)]) > 1:  # a citizen, or already told
        return
    officer = identity.officer
    for other in officer.identities:
        if other.id != identity.id and other.confirmed_at is not None:
            enqueue(session, other.channel, other.external_id,
                    Reply(t(officer.language, "notify.held_elsewhere", channel=t(officer.language, f"channel.{channel}"))),
                    purpose="officer", now=now)


def _answerer(session: Session, case: Case) -> Officer | None:
    """The officer who gave the latest answer to the citizen."""
    officer_id = session.scalar(select(CaseEvent.actor_id).where(
        CaseEvent.case_id == case.id, CaseEvent.actor_type == "officer", CaseEvent.public.is_(True),
        CaseEvent.note.is_not(None)).order_by(CaseEvent.id.desc()).limit(1))
    officer = session.get(Officer, officer_id) if officer_id else None
    return officer if officer is not None and officer.active else None


def citizen_moved(session: Session, office: Office, case: Case, tr: TransitionDef, note: str | None, now) -> None:
    """Say what the citizen did: accepted (with the rating), not solved (with the reason,
    and whose the case is now), or sent the information asked for."""
    wf = office.cases.workflow_of(case)
    told = holders(session, office, case)
    if tr.trigger in ("accept", "not_resolved") and (answerer := _answerer(session, case)) is not None:
        told = [answerer] + [o for o in told if o.id != answerer.id]  # who answered hears the verdict

    def text(lang):
        state = label(wf.states[case.state], lang)
        if tr.trigger == "accept":
            rating = session.scalar(select(Rating).where(Rating.case_id == case.id)
                                    .order_by(Rating.id.desc()).limit(1))
            if rating is not None and rating.score is not None:
                said = t(lang, "notify.accepted_rated", ticket=case.ticket, score=rating.score)
                if rating.comment:
                    said += "\n" + t(lang, "notify.rating_comment", comment=rating.comment)
                return said
            return t(lang, "notify.accepted", ticket=case.ticket)
        if tr.trigger == "not_resolved":
            return t(lang, "notify.not_resolved", ticket=case.ticket, reason=note or "-", state=state)
        return t(lang, "notify.citizen_moved", ticket=case.ticket, action=label(tr, lang), state=state)

    _send_officers(session, told, lambda lang: Reply(text(lang), card_button(lang, case.ticket)), case, now)
