"""What officers see in chat: the officer service's data (handlers.desk) as the case card,
the queue and the statistics, with their buttons."""
from __future__ import annotations

from flows.i18n import t, when
from flows.messages import Button, Reply, rows
from storage.models import Officer
from handlers import files
from handlers.desk_views import CaseView, Page, Statistics
from handlers.office import Office
from handlers.words import action_label, event_actor, label, state_label

NOTE_CHARS = 500
HISTORY_LINES = 15


def _cut(text: str) -> str:
    return text if len(text) <= NOTE_CHARS else text[:NOTE_CHARS] + "…"


def card(office: Office, view: CaseView, officer: Officer, lang: str) -> Reply:
    """Details, attachments, history and deadlines, with a button for each action allowed now."""
    wf = office.cases.workflow_of(view)
    cal = office.calendar
    if view.privacy == "anonim" or view.reporter is None:
        reporter = t(lang, "officer.card.anonymous") if view.privacy == "anonim" else "-"
    else:
        r = view.reporter
        reporter = ", ".join(x for x in (r.name, r.phone, r.email) if x) or "-"
    category = next((label(c, lang) for c in office.categories if c.id == view.category), view.category)
    lines = [t(lang, "officer.card.head", ticket=view.ticket, state=label(wf.states[view.state], lang)),
             t(lang, "officer.card.fields", kind=t(lang, f"kind.{view.kind}"),
               category=t(lang, "officer.card.category", category=category) if category else "",
               channel=t(lang, f"channel.{view.channel}"), privacy=t(lang, f"privacy.{view.privacy}"),
               unit=view.unit.name if view.unit else "-", reporter=reporter,
               lapor=view.lapor_id or "-", opened=when(cal, view.opened_at, lang)),
             "", view.text]
    file_lines, file_buttons, links = files.card_part(view.attachments, view.ticket, officer, lang)
    lines += file_lines
    for d in view.clocks:
        key = "officer.card.paused" if d.paused else "officer.card.due"
        lines.append(t(lang, key, stage=state_label(wf, d.stage, lang), due=when(cal, d.due_at, lang)))
    lines += _ratings(view, lang)
    lines += ["", t(lang, "officer.card.history")]
    for e in view.history[-HISTORY_LINES:]:
        mark = "" if e.public else " 🔒"
        lines.append(t(lang, "officer.card.history_item", when=when(cal, e.at, lang), mark=mark,
                       action=action_label(wf, e, lang, officer_view=True), who=event_actor(wf, e, lang)))
        if e.note:
            lines.append("  " + _cut(e.note))
    buttons = [Button(label(a, lang), f"a|{a.trigger}|{view.ticket}|{view.version}") for a in view.actions]
    buttons += file_buttons
    buttons.append(Button(t(lang, "officer.button.note"), f"n|{view.ticket}"))
    # A reply to the card becomes an internal note on the case.
    return Reply("\n".join(lines), rows(*buttons), meta={"ticket": view.ticket}, links=links)


def _ratings(view: CaseView, lang: str) -> list[str]:
    """The citizen's verdicts on the answers: solved with a score and comment, or not."""
    lines = []
    for r in view.ratings:
        if r.solved:
            lines.append(t(lang, "officer.card.rated", score=r.score if r.score is not None else "-"))
        else:
            lines.append(t(lang, "officer.card.unsolved"))
        if r.comment:
            lines.append("  " + _cut(r.comment))
    return ([""] + lines) if lines else []


def queue(office: Office, page: Page, lang: str) -> Reply:
    """Cases waiting on my role (and unit), soonest deadline first."""
    if not page.items:
        return Reply(t(lang, "officer.queue.empty"))
    wf = office.workflow
    lines = [t(lang, "officer.queue.head", n=page.total, page=page.page + 1, pages=page.pages)]
    buttons = []
    for item in page.items:
        late = " ⚠" if item.overdue else ""
        lines.append(t(lang, "officer.queue.item", ticket=item.ticket, state=label(wf.states[item.state], lang),
                       due=when(office.calendar, item.due_at, lang) if item.due_at else "-") + late)
        buttons.append(Button(item.ticket, f"k|{item.ticket}"))
    if page.has_next:
        buttons.append(Button(t(lang, "officer.button.next_page"), f"q|{page.page + 1}"))
    return Reply("\n".join(lines), rows(*buttons, per_row=2))


def statistics(office: Office, stats: Statistics, lang: str) -> Reply:
    lines = [t(lang, "officer.stats.head", total=stats.total, overdue=stats.overdue, new=stats.new_this_month,
               closed=stats.closed_this_month)]
    for state, d in office.workflow.states.items():
        if stats.by_state.get(state):
            lines.append(f"• {label(d, lang)}: {stats.by_state[state]}")
    return Reply("\n".join(lines))
