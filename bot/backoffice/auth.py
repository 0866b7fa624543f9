"""Signing in to the back office without passwords, and who a request is.

A chat vouches for the officer: `/masuk` there gives a one-time link (opened here, then a
button: a link preview that fetches it uses nothing up); or the sign-in page shows a code
that the officer types in chat as `/masuk CODE`, and the page, polling, is let in. The
session cookie holds a random token only (storage.web_sessions keeps its hash), lives
under the office's own path, and every request looks the session up again: ended,
expired, idle or revoked, it is gone at once. Another office's token or link finds
nothing here: each office's rows are only seen through its own sessions.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from functools import cached_property

from flask import (Blueprint, abort, current_app, g, jsonify, make_response, redirect, render_template, request,
                   session)

from flows.i18n import language
from storage.base import FIRST_OFFICE
from storage.limits import MessageRate
from storage.models_backoffice import WebSession
from storage.web_sessions import claim_code, end, link_officer, new_code, open_session, resolve, use_link

log = logging.getLogger(__name__)
COOKIE = "aduan_kantor"
PUBLIC = {"signin", "signin_status", "link", "use_link", "language", "static"}  # reachable signed out


class Limits:
    """New sign-in codes per client address: a page anyone can open must not fill a table."""

    def __init__(self, deployment):
        self.deployment = deployment

    @cached_property
    def codes(self) -> MessageRate:
        return MessageRate(self.deployment.redis, 0.2, 20, prefix="aduan:kantor")


def office():
    """This request's office: the one in the path, else the one of the host name, else the first."""
    if "kantor_office" not in g:
        deployment = current_app.extensions["aduan"]
        g.kantor_office = deployment.office_for_host(request.host) or deployment.default
    return g.kantor_office


def base_path() -> str:
    rt = office()
    own = "/kantor" if request.blueprint == "backoffice" else f"/o/{rt.code}/kantor"
    return request.script_root + own


def _cookie(rt) -> str:
    return COOKIE if rt.id == FIRST_OFFICE else f"{COOKIE}_{rt.id}"


def _pending_key(rt) -> str:
    return f"kantor_masuk_{rt.id}"


def _settings():
    return office().settings.backoffice


def current() -> WebSession | None:
    """This browser's live session in this office (its officer loaded), or None."""
    if "kantor_session" not in g:
        rt = office()
        token = request.cookies.get(_cookie(rt), "")
        g.kantor_session = None
        if token:
            with rt.transaction() as s:
                g.kantor_session = resolve(s, token, rt.clock(), timedelta(hours=_settings().idle_hours))
    return g.kantor_session


def lang() -> str:
    web = current()
    if web is not None:
        return web.language
    chosen = session.get("kantor_lang")
    return chosen if chosen in ("id", "en") else language(request.accept_languages.best_match(["id", "en"]))


def _signed_in(rt, officer, via: str):
    """A new session for `officer` (already checked): the cookie, and on to the queue."""
    s = _settings()
    with rt.transaction() as tx:
        token = open_session(tx, officer, via, rt.clock(), timedelta(days=s.max_days), session.get("kantor_lang"))
    log.info("officer #%s signed in to the back office (%s)", officer.id, via)
    return token


def set_cookie(response, token: str):
    rt = office()
    secure = request.is_secure or (rt.settings.server.public_url or "").startswith("https://")
    response.set_cookie(_cookie(rt), token, max_age=int(_settings().max_days * 86400), path=base_path(),
                        httponly=True, samesite="Lax", secure=secure)
    return response


def guard():
    """Before every back office view: the office is on, and a signed-out browser reaches
    only the sign-in pages."""
    if not office().settings.backoffice.enabled:
        abort(404)
    g.lang = lang()
    if (request.endpoint or "").rsplit(".", 1)[-1] in PUBLIC:
        return None
    web = current()
    if web is None:
        return redirect(base_path() + "/masuk")
    g.officer = web.officer
    g.lang = web.language
    return None


def _claim(rt):
    """The waiting sign-in of this browser: "done" (signed in: its token), "waiting", "gone"."""
    pending = session.get(_pending_key(rt))
    if not isinstance(pending, dict) or not isinstance(pending.get("nonce"), str):
        return "gone", None
    with rt.transaction() as s:
        got = claim_code(s, pending["nonce"], rt.clock())
    if got is None:
        return "waiting", None
    session.pop(_pending_key(rt), None)
    if got is False:
        return "gone", None
    return "done", _signed_in(rt, got, "code")


def register(bp: Blueprint) -> None:
    @bp.get("/masuk")
    def signin():
        """The sign-in page: a code to type in chat as /masuk CODE; the page polls."""
        rt = office()
        if current() is not None:
            return redirect(base_path() + "/")
        state, token = _claim(rt)
        if state == "done":
            return set_cookie(redirect(base_path() + "/"), token)
        pending = session.get(_pending_key(rt))
        if state == "gone":
            limits = current_app.extensions.setdefault("aduan_kantor_limits", Limits(rt.deployment))
            if limits.codes.wait("code", request.remote_addr or "-") > 0:
                return render_template("kantor/message.html", title="signin.title", text="signin.too_many"), 429
            with rt.transaction() as s:
                code, nonce = new_code(s, rt.clock(), timedelta(minutes=_settings().sign_in_minutes))
            pending = {"nonce": nonce, "code": code}
            session[_pending_key(rt)] = pending
        return make_response(render_template("kantor/signin.html", code=pending["code"],
                                             minutes=_settings().sign_in_minutes))

    @bp.get("/masuk/status")
    def signin_status():
        """The sign-in page asks whether its code was typed in chat yet."""
        rt = office()
        state, token = _claim(rt)
        response = jsonify(state=state, next=base_path() + "/")
        return set_cookie(response, token) if token else response

    @bp.get("/masuk/<token>")
    def link(token):
        """A sign-in link from chat: a button to use it (a preview's fetch uses nothing up)."""
        rt = office()
        with rt.sessions() as s:
            officer = link_officer(s, token[:100], rt.clock())
        if officer is None:
            return render_template("kantor/message.html", title="signin.title", text="signin.link_bad",
                                   again=True), 404
        return render_template("kantor/link.html", name=officer.name)

    @bp.post("/masuk/<token>", endpoint="use_link")
    def use_link_view(token):
        rt = office()
        with rt.transaction() as s:
            officer = use_link(s, token[:100], rt.clock())
        if officer is None:
            log.info("refused: a sign-in link that does not work")
            return render_template("kantor/message.html", title="signin.title", text="signin.link_bad",
                                   again=True), 404
        return set_cookie(redirect(base_path() + "/"), _signed_in(rt, officer, "link"))

    @bp.post("/keluar")
    def signout():
        rt = office()
        with rt.transaction() as s:
            end(s, request.cookies.get(_cookie(rt), ""), rt.clock())
        log.info("officer #%s signed out of the back office", g.officer.id)
        response = redirect(base_path() + "/masuk")
        response.delete_cookie(_cookie(rt), path=base_path())
        return response

    @bp.post("/bahasa", endpoint="language")
    def language_view():
        """The language switch: kept in the session (or, signed out, in this browser)."""
        chosen = request.form.get("lang")
        if chosen not in ("id", "en"):
            abort(400)
        web = current()
        if web is not None:
            with office().transaction() as s:
                row = s.get(WebSession, web.id)
                row.language = chosen
        session["kantor_lang"] = chosen
        back = request.form.get("next", "")
        return redirect(back if back.startswith(base_path() + "/") and "//" not in back[1:] else base_path() + "/")
