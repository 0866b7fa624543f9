"""Periodic duties in the conversation: the notice when one opens, its reminders and its
breach (the actor role's officers; on breach the leadership too), the duty's command
(`/lapor_bulanan`) marking it done, and its lines in the digests and in /bantuan.

Duty names, periods and dates only: a duty concerns no citizen.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from flows import duties as periods
from flows.duties import PeriodError, PeriodicDef
from flows.i18n import t, when
from flows.messages import Reply
from storage import duties as store
from storage.models import Deadline, Officer
from storage.models_duties import Duty
from storage.visibility import is_late
from handlers import notify
from handlers.office import Office
from handlers.words import label, officer_name

log = logging.getLogger(__name__)


def definition(office: Office, duty_id: str) -> PeriodicDef | None:
    return next((p for p in office.workflow.periodic if p.id == duty_id), None)


def by_command(office: Office) -> dict[str, PeriodicDef]:
    """Chat command -> duty, Indonesian and English."""
    return {c: p for p in office.workflow.periodic for c in p.commands}


def _names(p: PeriodicDef, key: str, lang: str) -> dict:
    return {"duty": p.label(lang), "period": periods.period_label(p.every, key, lang), "command": p.commands[0]}


def _due(office: Office, row: Deadline, lang: str) -> str:
    return when(office.calendar, row.due_at, lang)


def who(session: Session, office: Office, duty: Duty, lang: str) -> str:
    """Who marked it done: "Rina (Petugas Pengaduan)", or the name given on the command line."""
    if duty.done_via == "cli":
        return t(lang, "who.cli", name=duty.done_by) if duty.done_by else t(lang, "who.cli_unnamed")
    officer = session.get(Officer, duty.done_by_id) if duty.done_by_id else None
    return officer_name(office.workflow, officer, duty.role, lang, duty.done_by_id)


def _actors(session: Session, p: PeriodicDef) -> list[Officer]:
    return notify.officers_in(session, [p.actor])


# -- the scheduler's side ------------------------------------------------------------------
def open_due(session: Session, office: Office, now: datetime) -> int:
    """Open the duties whose period has ended and tell their actors; how many opened."""
    opened = store.open_due(session, office.workflow, office.calendar, now)
    for duty in opened:
        p = definition(office, duty.duty)
        for officer in _actors(session, p):
            lang = officer.language
            text = t(lang, "duty.opened", due=_due(office, duty.deadline, lang), **_names(p, duty.period, lang))
            notify.send_to_officer(session, officer, Reply(text + "\n" + t(lang, "duty.hint", command=p.commands[0])),
                                   None, now)
    return len(opened)


def remind(session: Session, office: Office, row: Deadline, threshold: float, now: datetime) -> None:
    from handlers.deadlines import remaining_text  # that module sends duties' reminders through here

    p = definition(office, row.stage)
    if p is None:  # the duty left the workflow; its rows stay listed
        log.info("duty %s is no longer in the workflow: no reminder", row.stage)
        return
    duty = row.duty
    for officer in _actors(session, p):
        lang = officer.language
        text = t(lang, "duty.remind", percent=int(threshold * 100), left=remaining_text(office, row, now, lang),
                 due=_due(office, row, lang), **_names(p, duty.period, lang))
        notify.send_to_officer(session, officer, Reply(text + "\n" + t(lang, "duty.hint", command=p.commands[0])),
                               None, now)


def breach(session: Session, office: Office, row: Deadline, now: datetime) -> None:
    """Past due and not done: the actors and the leadership are told."""
    p = definition(office, row.stage)
    if p is None:
        return
    duty = row.duty
    told = {o.id: o for o in _actors(session, p)}
    for o in notify.officers_in(session, office.workflow.roles_of_kind("leadership")):
        told.setdefault(o.id, o)
    for officer in told.values():
        lang = officer.language
        text = t(lang, "duty.breach", due=_due(office, row, lang), role=label(office.workflow.roles[p.actor], lang),
                 **_names(p, duty.period, lang))
        if officer.role == p.actor:
            text += "\n" + t(lang, "duty.hint", command=p.commands[0])
        notify.send_to_officer(session, officer, Reply(text), None, now)


# -- the officer's side ------------------------------------------------------------------------
def done_by_chat(session: Session, office: Office, officer: Officer, p: PeriodicDef, args: str,
                 now: datetime, via: str = "chat") -> list[Reply]:
    """`/lapor_bulanan [PERIOD]`: mark the latest open period (or PERIOD) done. The back
    office's "mark done" button comes here too, with the period and via="web"."""
    lang = officer.language
    wf = office.workflow
    if officer.role != p.actor:
        return [Reply(t(lang, "duty.not_yours", duty=p.label(lang), role=label(wf.roles[p.actor], lang)))]
    open_rows = store.open_rows(session, [p.id])
    if args.strip():
        try:
            key = periods.parse_period(p.every, args.split()[0])
        except PeriodError:
            example = periods.latest_ended(p.every, office.calendar.local(now).date())
            return [Reply(t(lang, "duty.period_usage", command=p.commands[0], example=example,
                            format="YYYY-MM" if p.every == "month" else "YYYY"))]
        duty = store.get(session, p.id, key)
        if duty is None:
            return [Reply(t(lang, "duty.no_period", **_names(p, key, lang)))]
    elif open_rows:
        duty = max(open_rows, key=lambda d: d.period)
    else:
        return [_nothing_open(office, p, now, lang)]
    if duty.done_at is not None or not store.mark_done(session, duty, store.DoneBy(officer.name, officer.id, via), now):
        return [Reply(t(lang, "duty.already_done", who=who(session, office, duty, lang),
                        at=when(office.calendar, duty.done_at, lang), **_names(p, duty.period, lang)))]
    log.info("duty %s %s done by officer #%s", p.id, duty.period, officer.id)
    lines = [t(lang, "duty.done", who=who(session, office, duty, lang), at=when(office.calendar, now, lang),
               **_names(p, duty.period, lang))]
    if is_late(duty.deadline, now):
        lines.append(t(lang, "duty.done_late", due=_due(office, duty.deadline, lang)))
    still = sorted(d.period for d in open_rows if d.id != duty.id)
    if still:
        lines.append(t(lang, "duty.still_open", command=p.commands[0], example=still[0],
                       periods=", ".join(periods.period_label(p.every, k, lang) for k in still)))
    for other in _actors(session, p):  # the others holding the role need not do it too
        if other.id != officer.id:
            notify.send_to_officer(session, other, Reply(t(other.language, "duty.done_other",
                                                           who=who(session, office, duty, other.language),
                                                           **_names(p, duty.period, other.language))), None, now)
    return [Reply("\n".join(lines))]


def _nothing_open(office: Office, p: PeriodicDef, now: datetime, lang: str) -> Reply:
    cal = office.calendar
    current = periods.period_of(p.every, cal.local(now).date())
    return Reply(t(lang, "duty.nothing_open", opens=when(cal, periods.opening(cal, p.every, current), lang),
                   **_names(p, current, lang)))


def help_lines(office: Office, officer: Officer, lang: str) -> list[str]:
    lines = []
    for p in office.workflow.periodic:
        if p.actor == officer.role:
            alias = f" (/{p.commands[1]})" if len(p.commands) > 1 else ""
            arg = "YYYY-MM" if p.every == "month" else "YYYY"
            lines.append(f"/{p.commands[0]}{alias} [{arg}] — {p.label(lang)} ({t(lang, f'officer.help.duty_{p.every}')})")
    return lines


# -- digests -----------------------------------------------------------------------------------
def digest_lines(session: Session, office: Office, officer: Officer, now: datetime) -> list[str]:
    """The officer's open duties with their due time, the overdue ones marked ⚠."""
    mine = {p.id: p for p in office.workflow.periodic if p.actor == officer.role}
    if not mine:
        return []
    lang = officer.language
    rows = store.open_rows(session, list(mine))
    if not rows:
        return []
    lines = [t(lang, "digest.duties")]
    for duty in rows:
        mark = " ⚠" if is_late(duty.deadline, now) else ""
        lines.append(t(lang, "digest.duty_item", due=_due(office, duty.deadline, lang),
                       **_names(mine[duty.duty], duty.period, lang)) + mark)
    return lines


def weekly_lines(session: Session, office: Office, lang: str, now: datetime) -> list[str]:
    """For the leadership: how many duties are past due, and which."""
    late = [d for d in store.open_rows(session) if is_late(d.deadline, now)]
    if not late:
        return []
    lines = [t(lang, "digest.weekly_duties", n=len(late))]
    for duty in late:
        p = definition(office, duty.duty)
        name = p.label(lang) if p else duty.duty
        lines.append(t(lang, "digest.weekly_duty_item", duty=name, due=_due(office, duty.deadline, lang),
                       period=periods.period_label(p.every, duty.period, lang) if p else duty.period))
    return lines
