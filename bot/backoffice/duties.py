"""The periodic duties page: the office's open duties (the workflow's [[periodic]] ones
with an open period), their due time in office time, the overdue ones marked, and for an
officer of the duty's actor role a "mark done" form. The form goes through the chat
command's own code (handlers.duties.done_by_chat, with the period and via="web"): who may
mark it, and what happens when someone marked it first, are decided there."""
from __future__ import annotations

import logging
import re

from flask import abort, flash, g, redirect, render_template, request

from bot.backoffice import auth
from bot.backoffice.pages import _helpers
from flows import duties as periods
from handlers import duties
from handlers.words import label
from storage import duties as store
from storage.models import Officer
from storage.visibility import is_late

log = logging.getLogger(__name__)
PERIOD = re.compile(r"^\d{4}(-\d{2})?$")


def register(bp) -> None:
    @bp.get("/tugas", endpoint="duties")
    def page():
        rt, officer, lang = auth.office(), g.officer, g.lang
        office, now = rt.conversation.office, rt.clock()
        wf, cal = office.workflow, office.calendar
        defs = {p.id: p for p in wf.periodic}
        with rt.sessions() as s:
            open_rows = store.open_rows(s, list(defs))
            rows = [{"id": d.duty, "period": d.period, "name": defs[d.duty].label(lang),
                     "period_label": periods.period_label(defs[d.duty].every, d.period, lang),
                     "role": label(wf.roles[defs[d.duty].actor], lang) if defs[d.duty].actor in wf.roles else d.role,
                     "due": d.deadline.due_at if d.deadline else None,
                     "late": d.deadline is not None and is_late(d.deadline, now),
                     "mine": defs[d.duty].actor == officer.role} for d in open_rows]
        return render_template("kantor/duties.html", title="duties.title", rows=rows, at=_helpers(rt, [])["at"])  # office time, as the other pages

    @bp.post("/tugas/selesai", endpoint="duty_done")
    def done():
        rt, lang = auth.office(), g.lang
        office = rt.conversation.office
        duty_id, period = request.form.get("duty", "")[:60], request.form.get("period", "")
        p = duties.definition(office, duty_id)
        if p is None or not PERIOD.match(period):
            abort(404)
        with rt.transaction() as s:
            officer = s.get(Officer, g.officer.id)
            if officer.role != p.actor:  # the chat answers with why; the web refuses
                abort(403)
            replies = duties.done_by_chat(s, office, officer, p, period, rt.clock(), via="web")
        log.info("officer #%s marked duty %s %s on the web", g.officer.id, p.id, period)
        flash("\n".join(r.text for r in replies), "ok")
        return redirect(f"{auth.base_path()}/tugas")
