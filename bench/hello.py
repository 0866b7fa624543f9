"""The bare Flask "hello" view: the baseline every inbound figure is compared with."""
from flask import Flask


def create_app():
    app = Flask(__name__)

    @app.post("/webhooks/telegram")
    @app.post("/webhooks/whatsapp")
    def hello():
        return {"ok": True}

    @app.get("/healthz")
    def health():
        return {"status": "ok"}

    return app
