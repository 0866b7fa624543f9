"""The Flask app factory. Channels register their blueprints here as they arrive."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.middleware.proxy_fix import ProxyFix
from sqlalchemy import text

from bot.config import Settings, load_settings
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """The web app; `aduan run` hands in its runtime so web and outbound share one."""
    app = Flask(__name__)
    runtime = runtime or Runtime(settings or load_settings())
    app.extensions["aduan"] = runtime
    app.config["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024  # webhooks are small; bound them

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
        return jsonify(status="ok" if ok else "degraded", workflow=runtime.workflow.name,
                       **checks), (200 if ok else 503)

    from bot import files
    from bot.channels import telegram, webchat, whatsapp

    app.secret_key = runtime.secret_key()
    webchat.install(app, runtime)  # the cookie: lifetime, Secure, HttpOnly, SameSite
    if runtime.settings.server.proxies:  # client address and https as the trusted proxies saw them
        n = runtime.settings.server.proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    app.register_blueprint(telegram.blueprint())
    app.register_blueprint(whatsapp.blueprint())
    app.register_blueprint(files.blueprint())
    if runtime.settings.webchat.enabled:
        app.register_blueprint(webchat.blueprint())
    return app
