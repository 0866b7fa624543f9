"""The Flask app factory. Channels register their blueprints here as they arrive."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix
from sqlalchemy import text

from bot import logs
from bot.config import Settings, load_settings
from bot.runtime import Runtime

log = logging.getLogger(__name__)
SMALL_BODY = 1024 * 1024  # webhooks and web chat messages: a Telegram update is a few KB
LARGE_BODIES = {"webchat.post_file"}  # takes a file, bounded by intake.max_attachment_mb itself


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """The web app; `aduan run` hands in its runtime so web and outbound share one."""
    app = Flask(__name__)
    runtime = runtime or Runtime(settings or load_settings())
    app.extensions["aduan"] = runtime
    # The ceiling of every body (for gunicorn, which has no body limit of its own, this is
    # the only one): Werkzeug refuses a longer Content-Length with 413 before reading and
    # cuts a body without one at the limit. Below it, everything but the upload is small.
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.server.max_body_mb * 1024 * 1024

    @app.before_request
    def _bounded_bodies():
        if request.endpoint in LARGE_BODIES:
            return None  # it checks the Content-Length itself, and answers in the visitor's language
        request.max_content_length = SMALL_BODY
        # Refused from the header, whatever the view would read first (a webhook checks its
        # secret before its body: without this, gunicorn would take the whole body in).
        if (request.content_length or 0) > SMALL_BODY:
            return jsonify(error="request body too large"), 413
        if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", ""):
            # No length to refuse from: read it (kept for the view), up to the limit. Werkzeug
            # stops there without a word, and the view would call the cut body malformed.
            request.get_data()
            if request.stream.is_exhausted:
                return jsonify(error="request body too large"), 413
        return None

    @app.get("/healthz")
    def healthz():
        """Liveness and readiness: the database answers and Redis answers."""
        checks = {}
        try:
            with runtime.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # report, never crash the probe
            log.warning("healthz: database: %s", type(exc).__name__)
            checks["database"] = "down"
        try:
            runtime.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            log.warning("healthz: redis: %s", type(exc).__name__)
            checks["redis"] = "down"
        ok = all(v == "ok" for v in checks.values())
        return jsonify(status="ok" if ok else "degraded", workflow=runtime.default.workflow.name,
                       **checks), (200 if ok else 503)

    from bot import backoffice, files
    from bot.channels import telegram, webchat, whatsapp

    app.secret_key = runtime.secret_key()
    webchat.install(app, runtime)  # the cookie: lifetime, Secure, HttpOnly, SameSite
    if runtime.settings.server.proxies:  # client address and https as the trusted proxies saw them
        n = runtime.settings.server.proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    logs.protect(runtime, app.logger)  # also under gunicorn, which never runs `aduan run`
    app.register_blueprint(telegram.blueprint())
    app.register_blueprint(whatsapp.blueprint())
    app.register_blueprint(files.blueprint())
    chat = webchat.blueprint()  # each office decides whether its own web chat is on
    app.register_blueprint(chat)
    app.register_blueprint(chat, url_prefix="/o/<office>", name="webchat_office")
    backoffice.install(app, runtime)  # /kantor and /o/<office>/kantor: officers on the web
    return app
