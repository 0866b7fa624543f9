"""The case page's forms: act on a case (a transition, with the note or unit it needs), add
an internal note, escalate, and for coordinators keep the SP4N-LAPOR! id. Every one goes
through the officer service (handlers.desk), the same code the chat's commands and buttons
use: the rules (role, unit, the case version the officer saw) are decided there, not here.

Each form posts with its CSRF token (checked by the blueprint) and the case version the
page showed; the answer is the case page again with a flash message: done, or why not
(the case moved on meanwhile, the role may not, something is missing). Another unit's
case, or one that does not exist, is a 404 as on the case page itself.
"""
from __future__ import annotations

import re

from flask import abort, flash, g, redirect, request

from bot.backoffice import auth
from flows.i18n import t
from handlers.desk_views import CaseNotFound, Stale
from handlers.words import error_text, event_actor, label
from storage.errors import StorageError
from storage.models import Officer

TICKET = re.compile(r"^[A-Za-z0-9-]{1,40}$")
MAX_TEXT = 4000


def _text(name: str) -> str | None:
    """A form field's text, None when empty (the service then says what is missing)."""
    value = (request.form.get(name) or "").strip()
    return value[:MAX_TEXT] or None


def _version() -> int:
    value = request.form.get("version", "")
    if not value.isdigit():
        abort(400)
    return int(value)


def moved_on(desk, exc: Stale, lang: str) -> str:
    """Someone acted first: who, and what the case is now (the chat's words)."""
    wf = desk.workflow_named(exc.workflow)
    who = event_actor(wf, exc.last, lang) if exc.last else "-"
    state = label(wf.states[exc.state], lang) if exc.state in wf.states else exc.state
    return t(lang, "officer.moved_on", ticket=exc.ticket, who=who, state=state)


def _run(ticket: str, work):
    """Do `work(session, desk, officer, now)` in one transaction (nothing kept if it
    raises), flash what it says or why it failed, and go back to the case page."""
    if not TICKET.match(ticket):
        abort(404)
    rt, lang = auth.office(), g.lang
    desk = rt.officers.desk
    try:
        with rt.transaction() as s:
            officer = s.get(Officer, g.officer.id)
            message = work(s, desk, officer, rt.clock())
    except CaseNotFound:  # unknown, or another unit's: the same answer
        abort(404)
    except Stale as exc:
        flash(moved_on(desk, exc, lang), "error")
    except StorageError as exc:
        flash(t(lang, "officer.refused", reason=error_text(exc, lang)), "error")
    else:
        flash(message, "ok")
    return redirect(f"{auth.base_path()}/kasus/{ticket.upper()}")


def register(bp) -> None:
    @bp.post("/kasus/<ticket>/tindakan", endpoint="case_act")
    def act(ticket):
        trigger, version = request.form.get("trigger", "")[:60], _version()
        note, unit = _text("note"), _text("unit")

        def work(s, desk, officer, now):
            needs = desk.needs(s, officer, ticket, trigger)
            done = desk.act(s, officer, ticket, trigger, note=note if needs == "note" else None,
                            unit_code=unit if needs == "unit" else None, version=version, now=now)
            wf = desk.workflow_named(done.case.workflow)
            return t(g.lang, "officer.done", ticket=done.case.ticket, action=label(done.action, g.lang),
                     state=label(wf.states[done.case.state], g.lang))

        return _run(ticket, work)

    @bp.post("/kasus/<ticket>/catatan", endpoint="case_note")
    def note(ticket):
        text = _text("note")

        def work(s, desk, officer, now):
            desk.note(s, officer, ticket, text, now)
            return t(g.lang, "officer.note_saved", ticket=ticket.upper())

        return _run(ticket, work)

    @bp.post("/kasus/<ticket>/eskalasi", endpoint="case_escalate")
    def escalate(ticket):
        reason = _text("reason")

        def work(s, desk, officer, now):
            desk.escalate(s, officer, ticket, reason, now)
            return t(g.lang, "officer.escalated", ticket=ticket.upper())

        return _run(ticket, work)

    @bp.post("/kasus/<ticket>/lapor", endpoint="case_lapor")
    def lapor(ticket):
        tracking_id = _text("lapor_id")

        def work(s, desk, officer, now):
            desk.lapor_id(s, officer, ticket, tracking_id, now)
            return t(g.lang, "officer.lapor_saved", ticket=ticket.upper(), lapor=tracking_id)

        return _run(ticket, work)
