"""What happens when a clock reaches a mark: reminders, breaches, escalation (a periodic
duty's clock is told apart by its kind and handled in handlers.duties).

Each function works inside the caller's transaction: reminders on a batch of deadline
rows, a breach on one. A reminder is claimed through the `reminders` table's unique key,
so it goes out once whatever the number of schedulers, restarts or clock jumps;
thresholds passed while nobody looked are recorded as suppressed under the one reminder
that does go.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.errors import TransitionError
from flows.i18n import t, when
from flows.messages import Reply
from storage.cases import SYSTEM
from storage.deadlines import claim_reminders, clock_of, refresh
from storage.models import Case, CaseEvent, Deadline
from storage.outbox import batched
from handlers import duties, notify
from handlers.office import Office

log = logging.getLogger(__name__)


def remaining_text(office: Office, row: Deadline, now: datetime, lang: str) -> str:
    """"2 hari kerja" / "3 jam 20 menit kerja" / "lewat 1 jam"."""
    cal = office.calendar
    clock = clock_of(row)
    seconds = clock.remaining(cal, now)
    if seconds <= 0:
        return t(lang, "time.overdue", span=_hours(-seconds, lang))
    if clock.sla.working and clock.sla.unit == "days":
        days = cal.working_days_between(now, row.due_at)
        if days >= 1:
            return t(lang, "time.working_days", n=days)
    return t(lang, "time.left", span=_hours(seconds, lang))


def _hours(seconds: float, lang: str) -> str:
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    return t(lang, "time.hours_minutes", h=hours, m=minutes) if hours else t(lang, "time.minutes", m=minutes)


def due_thresholds(office: Office, row: Deadline, now: datetime) -> list[float]:
    """The thresholds a reminder is due for now (the last one is sent, the others suppressed);
    empty if none is, with the row's next reminder time moved on."""
    cal = office.calendar
    clock = clock_of(row)
    passed = sorted(f for f in row.thresholds if f not in row.fired and clock.threshold_at(cal, f) <= now)
    if not passed:
        refresh(row, cal)
        return []
    if not cal.is_open(now, closing_included=True):  # nobody reads it at night: deliver at the next opening
        row.next_remind_at = cal.next_opening(now)
        return []
    return passed


def remind_all(session: Session, office: Office, rows: list[Deadline], now: datetime) -> int:
    """The reminders due on `rows`, claimed in one statement and written in the caller's
    transaction (a tick's batch costs a few round trips, not a few per row). Returns how
    many went."""
    due = {row.id: passed for row in rows if (passed := due_thresholds(office, row, now))}
    if not due:
        return 0
    claimed = claim_reminders(session, due, now)
    cases = {c.id: c for c in session.scalars(select(Case).where(
        Case.id.in_({row.case_id for row in rows if row.id in claimed and row.case_id is not None})))}
    # Asked once per batch, not once per case: the holders of each set of roles, and the
    # citizens' addresses.
    officers: dict = {}
    citizens = notify.addresses_of(session, [c.citizen_id for c in cases.values() if c.citizen_id])
    with batched(session):  # the batch's messages in one statement
        for row in rows:
            if row.id not in due:
                continue
            # Claimed or not, these thresholds are done: a row with a claim that is not ours
            # was reminded by another scheduler, and moves on to its next threshold the same.
            row.fired = sorted(set(row.fired) | set(due[row.id]))
            refresh(row, office.calendar)
            if row.id in claimed and row.kind == "duty":
                duties.remind(session, office, row, due[row.id][-1], now)
            elif row.id in claimed:
                _send_reminder(session, office, row, cases[row.case_id], due[row.id][-1], now, officers, citizens)
    return len(claimed)


def _send_reminder(session: Session, office: Office, row: Deadline, case: Case, threshold: float,
                   now: datetime, officers: dict, citizens: dict) -> None:
    cal = office.calendar
    if row.kind != "stage":
        return
    wf = office.cases.workflow_of(case)
    st = wf.states.get(row.stage)
    if st is not None and set(st.actors) == {"citizen"}:  # the move is the citizen's
        text = t(case.language, "remind.citizen", ticket=case.ticket, due=when(cal, row.due_at, case.language))
        notify.send_to_citizen(session, case, Reply(text), now, known=citizens, email=office.email,
                               wants_reply=True)
        return
    texts: dict[str, Reply] = {}  # one per language, however many officers read it
    for officer in notify.holders(session, office, case, cache=officers):
        lang = officer.language
        if lang not in texts:
            texts[lang] = Reply(t(lang, "remind.stage", ticket=case.ticket, percent=int(threshold * 100),
                                  stage=(st.label_id if lang == "id" else st.label_en) if st else row.stage,
                                  left=remaining_text(office, row, now, lang), due=when(cal, row.due_at, lang)),
                                notify.card_button(lang, case.ticket))
        notify.send_to_officer(session, officer, texts[lang], case, now)


def breach(session: Session, office: Office, row: Deadline, now: datetime) -> None:
    """The clock ran out: what the workflow says (notify, an automatic transition), or the
    escalation of a case without a follow-up; for a periodic duty, its actors and the
    leadership are told."""
    row.breached_at = now
    if row.kind == "duty":
        duties.breach(session, office, row, now)
        return
    case = session.get(Case, row.case_id)
    wf = office.cases.workflow_of(case)
    if row.kind == "escalation":
        escalate(session, office, case, now)
        return
    st = wf.states.get(row.stage)
    if st is None:
        return
    if st.on_breach.notify:
        for officer in notify.officers_in(session, list(st.on_breach.notify)):
            lang = officer.language
            text = t(lang, "remind.breach", ticket=case.ticket,
                     stage=st.label_id if lang == "id" else st.label_en, due=when(office.calendar, row.due_at, lang))
            notify.send_to_officer(session, officer, Reply(text, notify.card_button(lang, case.ticket)), case, now)
    if st.on_breach.trigger and case.state == row.stage:
        tr = wf.transition(st.on_breach.trigger, case.state)
        try:
            with session.begin_nested():
                case = office.cases.fire(session, case.ticket, tr.trigger, SYSTEM, now=now)
        except TransitionError as exc:  # the case moved on meanwhile
            log.info("breach of %s: %s not fired (%s)", case.ticket, tr.trigger, type(exc).__name__)
            return
        notify.transition(session, office, case, tr, None, now)


def escalate(session: Session, office: Office, case: Case, now: datetime) -> None:
    """The workflow's escalation time (60 working days by the national rules) without a
    follow-up: the leadership is told, and the citizen is told of the Ombudsman route (not
    for anonim reports: the Ombudsman needs an identity). Both hear the workflow's figure."""
    wf = office.cases.workflow_of(case)
    e = wf.escalation
    case.escalated_at = now
    session.add(CaseEvent(case_id=case.id, at=now, actor_type="system", action="escalate",
                          note=f"{e.after_label('id')} tanpa tindak lanjut", public=False))
    for officer in notify.officers_in(session, list(e.notify)):
        lang = officer.language
        notify.send_to_officer(session, officer, Reply(
            t(lang, "remind.escalated", ticket=case.ticket, after=e.after_label(lang)),
            notify.card_button(lang, case.ticket)), case, now)
    if e.ombudsman_notice and case.privacy != "anonim":
        lang = case.language
        reply = Reply(t(lang, "notify.ombudsman", ticket=case.ticket, after=e.after_label(lang)))
        notify.send_to_citizen(session, case, reply, now, email=office.email)
