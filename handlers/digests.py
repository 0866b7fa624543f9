"""Digests: what each officer has on their plate (daily, working days only), and what
leadership should know (weekly), each with the periodic duties (open ones for their
actor, past-due ones for the leadership). Ticket numbers, states and dates only: never
a citizen's name, number or complaint. An empty digest is not sent."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from flows.i18n import t, when
from flows.messages import Reply
from storage.models import Officer
from storage.outbox import held_count
from storage.reporting import counts_since
from handlers import duties
from handlers.desk import Desk
from handlers.office import Office

MAX_LISTED = 15


def daily(session: Session, office: Office, officer: Officer, now: datetime) -> Reply | None:
    wf = office.workflow
    lang = officer.language
    states = [s for s, d in wf.states.items() if officer.role in d.actors and not d.final]
    duty_lines = duties.digest_lines(session, office, officer, now)
    if not states and not duty_lines:
        return None
    rows = Desk(office).queue(session, officer, "mine", now=now, page_size=None).items if states else ()
    held = held_count(session, [(i.channel, i.external_id) for i in officer.identities])
    if not rows and not held and not duty_lines:
        return None
    overdue = [r for r in rows if r.overdue]
    since = previous_digest(office, now)  # "new": since the last digest, weekends included
    new = [r for r in rows if r.created_at >= since]
    label = lambda s: wf.states[s].label_id if lang == "id" else wf.states[s].label_en  # noqa: E731
    lines = [t(lang, "digest.daily", n=len(rows), overdue=len(overdue), new=len(new))]
    for r in rows[:MAX_LISTED]:
        mark = " ⚠" if r.overdue else (" ★" if r.created_at >= since else "")
        lines.append(t(lang, "officer.queue.item", ticket=r.ticket, state=label(r.state),
                       due=when(office.calendar, r.due_at, lang) if r.due_at else "-") + mark)
    if len(rows) > MAX_LISTED:
        lines.append(t(lang, "digest.more", n=len(rows) - MAX_LISTED))
    lines += duty_lines
    if held:  # never a silent hold: the officer learns where messages wait
        lines.append(t(lang, "digest.held", n=held))
    return Reply("\n".join(lines))


def previous_digest(office: Office, now: datetime) -> datetime:
    """When the digest before this one went: the previous working day, same time of day."""
    cal = office.calendar
    local = cal.local(now)
    day = local.date() - timedelta(days=1)
    for _ in range(30):
        if cal.is_working_day(day):
            break
        day -= timedelta(days=1)
    return datetime.combine(day, local.time(), cal.tz)


def weekly(session: Session, office: Office, lang: str, now: datetime) -> Reply | None:
    c = counts_since(session, now - timedelta(days=7), now)
    late_duties = duties.weekly_lines(session, office, lang, now)
    if not c["by_state"] and not c["breaches"] and not c["ratings"] and not late_duties:
        return None
    wf = office.workflow
    lines = [t(lang, "digest.weekly", breaches=c["breaches"], ratings=c["ratings"],
               avg=f"{c['avg_score']:.2f}" if c["avg_score"] is not None else "-")]
    for state, n in sorted(c["by_state"].items()):
        d = wf.states.get(state)
        lines.append(f"• {(d.label_id if lang == 'id' else d.label_en) if d else state}: {n}")
    return Reply("\n".join(lines + late_duties))
