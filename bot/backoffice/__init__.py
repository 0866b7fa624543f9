"""The officers' back office on the web: /kantor/ (the first office, or the office of the
host name) and /o/<office>/kantor/. Server-rendered pages (Jinja), a stylesheet and a
little script of its own, nothing from a CDN, no build step.

Modules: auth (sign-in and who a request is), pages (queues, search, the case, the
dashboard, reports), actions (the case page's forms, through handlers.desk), admin (units, officers, the workflow), record (a complaint that came another way, as /catat), duties (the periodic duties, marked done as in chat), charts (SVG), data (what the
pages read). Every form carries a CSRF token (Flask-WTF), checked on this blueprint only:
the webhooks and the web chat's JSON API have their own proofs.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, g, request
from flask_wtf.csrf import CSRFProtect

from bot.backoffice import actions, admin, auth, duties, pages, record
from flows.i18n import t

csrf = CSRFProtect()


def _text(key: str, **values) -> str:
    return t(g.get("lang", "id"), f"kantor.{key}", **values)


def blueprint() -> Blueprint:
    bp = Blueprint("backoffice", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static")

    @bp.url_value_preprocessor
    def _office_of_path(_endpoint, values):
        code = (values or {}).pop("office", None)
        if code is not None:
            found = current_app.extensions["aduan"].office_by_code(code)
            if found is None:
                abort(404)
            g.kantor_office = found

    @bp.before_request
    def _checks():
        if request.method == "POST":
            csrf.protect()  # a 400 without the form's token (flask_wtf.csrf.CSRFError)
        return auth.guard()

    @bp.after_request
    def _headers(response):
        for name, value in {  # a served file keeps its own (bot.files.serve: stricter)
                "Cache-Control": "no-store",  # officers' pages hold personal data
                "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
                "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; "
                                           "script-src 'self'; frame-ancestors 'none'; form-action 'self'"}.items():
            response.headers.setdefault(name, value)
        return response

    @bp.context_processor
    def _context():
        officer = g.get("officer")
        rt = auth.office()
        return {"_": _text, "lang": g.get("lang", "id"), "base": auth.base_path(), "office_name": rt.settings.office.name,
                "officer": officer, "can": pages.abilities(rt, officer) if officer is not None else {},
                "query": lambda **kw: urlencode({**request.args.to_dict(), **{k: str(v) for k, v in kw.items()}})}

    auth.register(bp)
    pages.register(bp)
    actions.register(bp)
    admin.register(bp)
    record.register(bp)
    duties.register(bp)
    return bp


def install(app, runtime) -> None:
    """CSRF on the app (checked only where the back office asks), and the blueprint at
    /kantor and /o/<office>/kantor."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # as long as the session: it ends on its own
    csrf.init_app(app)
    bp = blueprint()
    app.register_blueprint(bp, url_prefix="/kantor")
    app.register_blueprint(bp, url_prefix="/o/<office>/kantor", name="backoffice_office")
