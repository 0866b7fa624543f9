"""What officers see: the case card, the queue and the statistics."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from flows.i18n import t, when
from flows.messages import Button, Reply, rows
from storage.models import Case, Deadline, Officer, Rating
from handlers import files
from handlers.office import Office
from handlers.words import action_label, actor_name, label, officers_of, state_label

PAGE = 8
NOTE_CHARS = 500


def actions(office: Office, case: Case, officer: Officer) -> list:
    """The transitions this officer may take on this case now (role and unit)."""
    wf = office.cases.workflow_of(case)
    if not unit_ok(office, case, officer):
        return []
    return [tr for tr in wf.transitions_from(case.state) if officer.role in tr.roles]


def unit_ok(office: Office, case: Case, officer: Officer) -> bool:
    """An officer of a unit (liaison or unit officer with a unit) sees only that unit's
    cases; cases not yet forwarded to a unit are the coordinators' business."""
    wf = office.cases.workflow_of(case)
    return not (wf.unit_bound(officer.role) and officer.unit_id is not None and case.unit_id != officer.unit_id)


def card(session: Session, office: Office, case: Case, officer: Officer, lang: str) -> Reply:
    """Details, attachments, history and deadlines, with a button for each action allowed now."""
    wf = office.cases.workflow_of(case)
    cal = office.calendar
    st = wf.states[case.state]
    case = session.scalar(select(Case).where(Case.id == case.id).options(
        selectinload(Case.events), selectinload(Case.deadlines), selectinload(Case.unit),
        selectinload(Case.citizen)))
    if case.privacy == "anonim" or case.citizen is None:
        reporter = t(lang, "officer.card.anonymous") if case.privacy == "anonim" else "-"
    else:
        c = case.citizen
        reporter = ", ".join(x for x in (c.name, c.phone, c.email) if x) or "-"
    category = next((label(c, lang) for c in office.categories if c.id == case.category), case.category)
    lines = [t(lang, "officer.card.head", ticket=case.ticket, state=label(st, lang)),
             t(lang, "officer.card.fields", kind=t(lang, f"kind.{case.kind}"),
               category=t(lang, "officer.card.category", category=category) if category else "",
               channel=t(lang, f"channel.{case.channel}"), privacy=t(lang, f"privacy.{case.privacy}"),
               unit=case.unit.name if case.unit else "-", reporter=reporter,
               lapor=case.lapor_tracking_id or "-", opened=when(cal, case.created_at, lang)),
             "", case.text]
    file_lines, file_buttons, links = files.card_part(session, case, officer, lang)
    lines += file_lines
    open_clocks = [d for d in case.deadlines if d.completed_at is None and d.kind == "stage"]
    for d in open_clocks:
        key = "officer.card.paused" if d.paused_at else "officer.card.due"
        lines.append(t(lang, key, stage=state_label(wf, d.stage, lang), due=when(cal, d.due_at, lang)))
    lines += _ratings(session, case, lang)
    lines += ["", t(lang, "officer.card.history")]
    events = case.events[-15:]
    officers = officers_of(session, events)
    for e in events:
        mark = "" if e.public else " 🔒"
        lines.append(t(lang, "officer.card.history_item", when=when(cal, e.at, lang), mark=mark,
                       action=action_label(wf, e, lang, officer_view=True),
                       who=actor_name(wf, e, officers, lang)))
        if e.note:
            lines.append("  " + (e.note if len(e.note) <= NOTE_CHARS else e.note[:NOTE_CHARS] + "…"))
    buttons = [Button(tr.label_id if lang == "id" else tr.label_en, f"a|{tr.trigger}|{case.ticket}|{case.version}")
               for tr in actions(office, case, officer)]
    buttons += file_buttons
    buttons.append(Button(t(lang, "officer.button.note"), f"n|{case.ticket}"))
    # A reply to the card becomes an internal note on the case.
    return Reply("\n".join(lines), rows(*buttons), meta={"ticket": case.ticket}, links=links)


def _ratings(session: Session, case: Case, lang: str) -> list[str]:
    """The citizen's verdicts on the answers: solved with a score and comment, or not."""
    found = session.scalars(select(Rating).where(Rating.case_id == case.id).order_by(Rating.id)).all()
    lines = []
    for r in found:
        if r.solved:
            lines.append(t(lang, "officer.card.rated", score=r.score if r.score is not None else "-"))
        else:
            lines.append(t(lang, "officer.card.unsolved"))
        if r.comment:
            lines.append("  " + (r.comment if len(r.comment) <= NOTE_CHARS else r.comment[:NOTE_CHARS] + "…"))
    return ([""] + lines) if lines else []


def queue(session: Session, office: Office, officer: Officer, lang: str, page: int, now: datetime) -> Reply:
    """Cases waiting on my role (and unit), soonest deadline first."""
    wf = office.workflow
    states = [s for s, d in wf.states.items() if officer.role in d.actors and not d.final]
    due = (select(Deadline.case_id, func.min(Deadline.due_at).label("due"))
           .where(Deadline.completed_at.is_(None), Deadline.kind == "stage").group_by(Deadline.case_id)
           .subquery())
    query = (select(Case, due.c.due).outerjoin(due, due.c.case_id == Case.id)
             .where(Case.state.in_(states), Case.workflow == wf.name))
    if wf.unit_bound(officer.role) and officer.unit_id is not None:
        query = query.where(Case.unit_id == officer.unit_id)
    query = query.order_by(due.c.due.is_(None), due.c.due, Case.id)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    found = session.execute(query.offset(page * PAGE).limit(PAGE)).all()
    if not found:
        return Reply(t(lang, "officer.queue.empty"))
    lines = [t(lang, "officer.queue.head", n=total, page=page + 1, pages=(total + PAGE - 1) // PAGE)]
    buttons = []
    for case, due_at in found:
        st = wf.states[case.state]
        late = " ⚠" if due_at is not None and due_at < now else ""
        lines.append(t(lang, "officer.queue.item", ticket=case.ticket,
                       state=st.label_id if lang == "id" else st.label_en,
                       due=when(office.calendar, due_at, lang) if due_at else "-") + late)
        buttons.append(Button(case.ticket, f"k|{case.ticket}"))
    if (page + 1) * PAGE < total:
        buttons.append(Button(t(lang, "officer.button.next_page"), f"q|{page + 1}"))
    return Reply("\n".join(lines), rows(*buttons, per_row=2))


def statistics(session: Session, office: Office, lang: str, now: datetime) -> Reply:
    wf = office.workflow
    counts = dict(session.execute(select(Case.state, func.count()).group_by(Case.state)).all())
    overdue = session.scalar(select(func.count(func.distinct(Deadline.case_id))).where(
        Deadline.completed_at.is_(None), Deadline.kind == "stage", Deadline.paused_at.is_(None),
        Deadline.due_at < now))
    local = office.calendar.local(now)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    new = session.scalar(select(func.count()).select_from(Case).where(Case.created_at >= month_start))
    closed = session.scalar(select(func.count()).select_from(Case).where(Case.closed_at >= month_start))
    lines = [t(lang, "officer.stats.head", total=sum(counts.values()), overdue=overdue, new=new, closed=closed)]
    for state, d in wf.states.items():
        if counts.get(state):
            lines.append(f"• {d.label_id if lang == 'id' else d.label_en}: {counts[state]}")
    return Reply("\n".join(lines))
