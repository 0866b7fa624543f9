"""The admin pages (roles of kind coordinator): units (add, rename), officers (invite:
the code shown once; revoke: their chats and web sessions end at once), and the
workflow shown as its steps. The same storage functions as `aduan unit` / `aduan officer`."""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import abort, g, redirect, render_template, request

from bot.backoffice import auth
from bot.backoffice.pages import _helpers, abilities
from flows.i18n import t
from flows.sla import parse_sla
from handlers.words import error_text, label
from storage.errors import StorageError
from storage.officers import invite, list_officers, revoke
from storage.units import add_unit, list_units, rename_unit

log = logging.getLogger(__name__)
INVITE_HOURS = 72


def _admin():
    rt = auth.office()
    if not abilities(rt, g.officer)["admin"]:
        abort(403)
    return rt


def _officers_page(rt, *, invited=None, problem=None, status=200):
    with rt.sessions() as s:
        officers, units = list_officers(s), list_units(s)
    wf = rt.workflow
    return render_template("kantor/officers.html", officers=officers, roles=wf.roles, invited=invited,
                           problem=problem, unit_roles=[r for r in wf.roles if wf.unit_bound(r)],
                           **_helpers(rt, units)), status


def register(bp) -> None:
    @bp.get("/admin/unit")
    def units():
        rt = _admin()
        with rt.sessions() as s:
            found = list_units(s)
        return render_template("kantor/units.html", problem=None, **_helpers(rt, found))

    @bp.post("/admin/unit")
    def units_change():
        rt, form = _admin(), request.form
        try:
            with rt.transaction() as s:
                if form.get("rename"):
                    rename_unit(s, form["rename"], form.get("name", ""))
                else:
                    add_unit(s, form.get("code", ""), form.get("name", ""))
        except StorageError as exc:
            with rt.sessions() as s:
                found = list_units(s)
            return render_template("kantor/units.html", problem=error_text(exc, g.lang), **_helpers(rt, found)), 400
        log.info("officer #%s changed the units on the web", g.officer.id)
        return redirect(auth.base_path() + "/admin/unit")

    @bp.get("/admin/petugas")
    def officers():
        return _officers_page(_admin())

    @bp.post("/admin/petugas")
    def officers_invite():
        rt, form = _admin(), request.form
        role, unit = form.get("role", ""), form.get("unit") or None
        try:
            with rt.transaction() as s:
                officer, code = invite(s, rt.workflow, role, unit, form.get("name", "").strip()[:200] or None,
                                       timedelta(hours=INVITE_HOURS), now=rt.clock())
                officer_id = officer.id
        except StorageError as exc:
            return _officers_page(rt, problem=error_text(exc, g.lang) if exc.key else str(exc), status=400)
        log.info("officer #%s invited officer #%s on the web", g.officer.id, officer_id)
        return _officers_page(rt, invited={"id": officer_id, "code": code, "hours": INVITE_HOURS})

    @bp.post("/admin/petugas/<int:officer_id>/cabut")
    def officers_revoke(officer_id):
        rt = _admin()
        try:
            with rt.transaction() as s:
                revoke(s, officer_id, rt.clock())
        except StorageError as exc:
            return _officers_page(rt, problem=error_text(exc, g.lang) if exc.key else str(exc), status=400)
        log.info("officer #%s revoked officer #%s on the web", g.officer.id, officer_id)
        return redirect(auth.base_path() + "/admin/petugas")

    @bp.get("/admin/alur")
    def workflow():
        rt = _admin()
        wf, lang = rt.workflow, g.lang
        steps = []
        for name in wf.ordered_states():
            st = wf.states[name]
            role = (lambda r: label(wf.roles[r], lang) if r in wf.roles else t(lang, "who.citizen"))  # noqa: E731
            steps.append({"state": st, "label": label(st, lang), "step": st.step_id if lang == "id" else st.step_en,
                          "sla": parse_sla(st.sla).label(lang) if st.sla else "",
                          "actors": [role(a) for a in st.actors],
                          "moves": [{"label": label(tr, lang), "dest": label(wf.states[tr.dest], lang),
                                     "command": tr.command, "roles": [role(r) for r in tr.roles]}
                                    for tr in wf.transitions_from(name)]})
        with rt.sessions() as s:
            units = list_units(s)
        return render_template("kantor/workflow.html", wf=wf, steps=steps, **_helpers(rt, units))
