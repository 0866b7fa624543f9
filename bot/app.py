"""The Flask app factory. Channels register their blueprints here as they arrive."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy import text

from bot.config import Settings, load_settings
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    app = Flask(__name__)
    runtime = Runtime(settings or load_settings())
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

    return app
