"""What a citizen may see of their own cases: the list, and one case in detail (their own,
or any case whose access code they give: `/status TICKET CODE` from another chat)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from flows.i18n import day, t, when
from flows.messages import Reply
from storage import access
from storage.models import Case, Citizen, utcnow
from handlers.office import Office
from handlers.words import action_label, verdict_buttons

MAX_LISTED = 10
NOTE_CHARS = 300


def _label(office: Office, case: Case, lang: str) -> str:
    st = office.cases.workflow_of(case).states[case.state]
    return st.label_id if lang == "id" else st.label_en


def case_list(session: Session, office: Office, citizen: Citizen, lang: str) -> Reply:
    cases = session.scalars(select(Case).where(Case.citizen_id == citizen.id)
                            .order_by(Case.id.desc()).limit(MAX_LISTED)).all()
    if not cases:
        return Reply(t(lang, "status.none"))
    lines = [t(lang, "status.list")]
    lines += [t(lang, "status.item", ticket=c.ticket, state=_label(office, c, lang),
                date=day(office.calendar, c.created_at, lang)) for c in cases]
    lines.append(t(lang, "status.hint"))
    # A case that waits for the citizen's verdict asks again here: on a channel where a
    # choice is typed, a number answers the newest message, which this list now is.
    waiting = next((c for c in cases if office.cases.workflow_of(c).awaits_verdict(c.state)), None)
    if waiting is None:
        return Reply("\n".join(lines))
    lines += ["", t(lang, "status.verdict", ticket=waiting.ticket)]
    return Reply("\n".join(lines), verdict_buttons(lang, waiting.ticket))


def case_detail(session: Session, office: Office, citizen: Citizen, args: str, lang: str,
                now: datetime | None = None) -> Reply:
    """`args` is "TICKET" or "TICKET CODE". Someone else's ticket without its code, or with
    a wrong one, answers exactly like a ticket that does not exist (no oracle)."""
    ticket, code = (args.split(None, 1) + ["", ""])[:2]
    ticket = ticket.upper()
    not_found = Reply(t(lang, "status.not_found", ticket=ticket[:40]))
    case = session.scalar(select(Case).where(Case.ticket == ticket)
                          .options(selectinload(Case.events)))
    if case is not None and case.citizen_id == citizen.id:
        detail = _detail(session, office, case, lang)
        if not office.cases.workflow_of(case).awaits_verdict(case.state):
            return detail
        # their own case waits for their verdict: asked again, as in the list
        return Reply(f"{detail.text}\n\n{t(lang, 'notify.solved_question')}", verdict_buttons(lang, case.ticket))
    if not code.strip():
        return not_found
    try:
        case = access.open_with_code(session, ticket, code, f"citizen:{citizen.id}", now or utcnow())
    except access.Throttled:
        return Reply(t(lang, "status.throttled"))
    return not_found if case is None else _detail(session, office, case, lang)


def _detail(session: Session, office: Office, case: Case, lang: str) -> Reply:
    wf = office.cases.workflow_of(case)
    st = wf.states[case.state]
    cal = office.calendar
    lines = [t(lang, "status.detail", ticket=case.ticket, state=_label(office, case, lang),
               kind=t(lang, f"kind.{case.kind}"), created=when(cal, case.created_at, lang))]
    if st.citizen_visible and (explain := (st.explain_id if lang == "id" else st.explain_en)):
        lines.append(explain)
    if st.final:
        lines.append(t(lang, "status.final"))
    else:
        clock = office.cases.open_deadline(session, case)
        step = (st.step_id if lang == "id" else st.step_en) or _label(office, case, lang)
        if clock is not None and clock.paused_at is None:
            key = "status.next_waiting" if "citizen" in st.actors else "status.next"
            lines.append(t(lang, key, step=step, due=when(cal, clock.due_at, lang)))
    lines.append("")
    lines.append(t(lang, "status.history"))
    for e in case.events:
        if not e.public:
            continue  # internal notes never reach the citizen
        action = t(lang, "history.info") if e.action == "info" else action_label(wf, e, lang, officer_view=False)
        lines.append(t(lang, "status.history_item", when=when(cal, e.at, lang), action=action))
        if e.note:
            note = e.note if len(e.note) <= NOTE_CHARS else e.note[:NOTE_CHARS] + "…"
            lines.append(t(lang, "status.history_note", note=note))
    return Reply("\n".join(lines))
