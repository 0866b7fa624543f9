"""The "record a complaint" page: what the chat's /catat does, for a complaint that came by
the front desk, the complaint box, the phone, email or SP4N-LAPOR!. Every signed-in
officer may record (as /catat in chat); the form asks what the chat form asks (source,
kind, category when the office has them, the text within the intake's lengths, privacy,
and optionally name, email, phone) and hands it to the officer service
(Desk.record_walk_in) in one transaction: the coordinators hear of it as from chat."""
from __future__ import annotations

import logging

from flask import flash, g, redirect, render_template, request

from bot.backoffice import auth
from flows.case_fields import Kind, Privacy
from flows.i18n import t
from handlers.desk import WALK_IN_SOURCES
from handlers.desk_views import WalkIn
from handlers.words import error_text
from storage.errors import StorageError
from storage.models import Officer

log = logging.getLogger(__name__)
FIELDS = ("source", "kind", "category", "text", "privacy", "name", "email", "phone")


def _form() -> dict:
    return {name: (request.form.get(name) or "").strip()[:9000] for name in FIELDS}


def _problem(office, values: dict, lang: str) -> str | None:
    """What the chat form would refuse before the service sees it."""
    rules = office.rules("officer")
    if values["kind"] not in {k.value for k in Kind}:
        return t(lang, "kantor.record.pick_kind")
    if rules.categories and values["category"] not in {c[0] for c in rules.categories}:
        return t(lang, "kantor.record.pick_category")
    if values["privacy"] not in {p.value for p in Privacy}:
        return t(lang, "kantor.record.pick_privacy")
    n = len(values["text"])
    if n < rules.min_text:
        return t(lang, "intake.text_short", min=rules.min_text, n=n)
    if n > rules.max_text:
        return t(lang, "intake.text_long", max=rules.max_text, n=n)
    return None


def _page(rt, values: dict, problem: str | None = None, status: int = 200):
    office, lang = rt.conversation.office, g.lang
    rules = office.rules("officer")
    return render_template(
        "kantor/record.html", title="record.title", f=values, problem=problem,
        sources=[(c.value, t(lang, f"channel.{c.value}")) for c in WALK_IN_SOURCES],
        kinds=[(k.value, t(lang, f"kind.{k.value}")) for k in Kind],
        categories=[(cid, label_id if lang == "id" else label_en) for cid, label_id, label_en in rules.categories],
        privacies=[(p.value, t(lang, f"privacy.{p.value}")) for p in Privacy],
        min_text=rules.min_text, max_text=rules.max_text), status


def register(bp) -> None:
    @bp.get("/catat", endpoint="record")
    def record():
        return _page(auth.office(), {name: "" for name in FIELDS} | {"privacy": "biasa"})

    @bp.post("/catat")
    def record_post():
        rt, lang, values = auth.office(), g.lang, _form()
        problem = _problem(rt.conversation.office, values, lang)
        if problem is not None:
            return _page(rt, values, problem, 400)
        walk_in = WalkIn(source=values["source"], kind=values["kind"], text=values["text"],
                         category=values["category"] or None, privacy=values["privacy"],
                         name=values["name"][:200] or None, email=values["email"] or None,
                         phone=values["phone"] or None)
        try:
            with rt.transaction() as s:
                officer = s.get(Officer, g.officer.id)
                view = rt.officers.desk.record_walk_in(s, officer, walk_in, rt.clock(), via="officer")
                ticket = view.ticket
        except StorageError as exc:
            return _page(rt, values, t(lang, "officer.refused", reason=error_text(exc, lang)), 400)
        log.info("officer #%s recorded a walk-in complaint on the web", g.officer.id)
        flash(t(lang, "officer.record.done", ticket=ticket), "ok")
        return redirect(f"{auth.base_path()}/kasus/{ticket}")
