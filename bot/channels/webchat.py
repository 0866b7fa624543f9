"""Web chat: a page at / that an office can link or embed, talking JSON to the bot.

In: `POST /webchat/api/messages` with {"id", "text"} or {"id", "button"}; a signed
session cookie says which visitor it is, and the client's message id makes a retry
harmless. Out: the page polls `GET /webchat/api/messages?after=N`; for this channel
the outbox row is "accepted by the provider" when the page has fetched it.
"""
from __future__ import annotations

import re
import uuid
from importlib import resources

from flask import Blueprint, Response, current_app, jsonify, request, session

from flows.messages import Inbound

CHANNEL = "webchat"
MAX_TEXT = 10000
_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _static(name: str) -> str:
    return (resources.files("bot.channels") / "webchat_static" / name).read_text(encoding="utf-8")


def _visitor() -> str:
    if "visitor" not in session:
        session["visitor"] = uuid.uuid4().hex
        session.permanent = True
    return "w-" + session["visitor"]


def blueprint() -> Blueprint:
    bp = Blueprint("webchat", __name__)

    @bp.get("/")
    def page():
        """The chat page: plain HTML/CSS/JS, nothing from a CDN."""
        runtime = current_app.extensions["aduan"]
        title = runtime.settings.webchat.title or runtime.settings.office.name
        html = _static("index.html").replace("{{title}}", _escape(title))
        return Response(html, content_type="text/html; charset=utf-8")

    @bp.get("/webchat/<name>")
    def asset(name):
        """chat.js and chat.css."""
        types = {"chat.js": "text/javascript", "chat.css": "text/css"}
        if name not in types:
            return "not found", 404
        return Response(_static(name), content_type=f"{types[name]}; charset=utf-8")

    @bp.post("/webchat/api/messages")
    def post_message():
        """A visitor's message or button press; 200 once it is stored."""
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not _ID.match(data["id"]):
            return jsonify(error="send JSON with an id of 8-64 letters, digits, '-' or '_'"), 400
        text, button = data.get("text"), data.get("button")
        if (text is not None and not isinstance(text, str)) or (button is not None and not isinstance(button, str)):
            return jsonify(error="text and button must be strings"), 400
        if text is not None and len(text) > MAX_TEXT:
            return jsonify(error=f"at most {MAX_TEXT} characters in one message"), 413
        chat = _visitor()
        inbound = Inbound(CHANNEL, chat, f"{chat}:{data['id']}", text=text, button=button,
                          language_hint=request.accept_languages.best_match(["id", "en"]))
        runtime = current_app.extensions["aduan"]
        runtime.receive(CHANNEL, inbound.provider_message_id, inbound, {"id": data["id"]})
        return jsonify(ok=True)

    @bp.get("/webchat/api/messages")
    def get_messages():
        """The bot's messages to this visitor after id N (the page polls)."""
        try:
            after = int(request.args.get("after", "0"))
        except ValueError:
            return jsonify(error="after must be a number"), 400
        runtime = current_app.extensions["aduan"]
        messages = runtime.fetch_webchat(_visitor(), after)
        return jsonify(messages=messages)

    return bp


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))
