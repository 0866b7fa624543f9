"""Web chat: a page at / that an office can link or embed, talking JSON to the bot.

In: `POST /webchat/api/messages` with {"id", "text"} or {"id", "button"}; a signed
session cookie says which visitor it is, and the client's message id makes a retry
harmless. A file comes as `POST /webchat/api/files` (multipart: id, file), is held in
the uploads folder and enters the conversation as an attachment like a Telegram photo;
the attachment fetcher moves it into the case's folder once the complaint is filed.
Out: the page polls `GET /webchat/api/messages?after=N`; for this channel the outbox
row is "accepted by the provider" when the page has fetched it. A post is answered once
the message is stored; it is handled a moment later (bot.inbound), so the page polls
again soon after each post, and the cookie's nonce is rotated on the poll that brings
the reply of a message that gained the chat rights.

The cookie (signed, HttpOnly, SameSite=Lax, Secure behind https, `webchat.session_days`)
holds the visitor id and a nonce whose hash is kept in `chat_sessions`: the nonce is
rotated when the chat gains rights, "end session" kills the visitor id for good
(storage.chat_sessions says why a nonce rather than a new visitor id). A visitor posting
faster than `webchat.messages_per_second` is refused with a 429 before anything is stored.
"""
from __future__ import annotations

import logging
import mimetypes
import os
import re
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from importlib import resources
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, g, has_request_context, jsonify, request, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from flows.i18n import language, t
from flows.intake import attachment_problem
from flows.messages import Attachment, Inbound
from storage import chat_sessions, inbound as inbound_queue
from storage.base import FIRST_OFFICE
from storage.models import Citizen, CitizenIdentity

log = logging.getLogger(__name__)
CHANNEL = "webchat"
MAX_TEXT = 10000
FORM_ROOM = 16 * 1024  # the multipart framing and the id around the file itself
_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_REF = re.compile(r"^upload:([0-9a-f]{32})$")
_VISITOR = re.compile(r"^[0-9a-f]{32}$")


class UploadStore:
    """Web chat files waiting for their complaint. The attachment fetcher takes them from
    here like it takes Telegram's and Twilio's; what no filed complaint took is deleted once
    no half-filled form can still hold it (personal data is not kept for nothing)."""

    channel = CHANNEL

    def __init__(self, folder: Path, keep: timedelta, every: float = 600.0):
        self.folder, self.keep, self.every, self._last = folder, keep, every, 0.0

    def put(self, data: bytes) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return f"upload:{name}"

    def _path(self, ref: str) -> Path | None:
        m = _REF.match(ref or "")
        return self.folder / m[1] if m else None  # never a path from outside

    def fetch(self, ref: str, max_bytes: int) -> bytes:
        from bot.attachments import FetchError

        path = self._path(ref)
        if path is None or not path.is_file():
            raise FetchError("the uploaded file is gone")
        if path.stat().st_size > max_bytes:
            raise FetchError("file is over the limit")
        return path.read_bytes()

    def fetched(self, ref: str) -> None:
        self.discard(ref)

    def discard(self, ref: str) -> None:
        path = self._path(ref)
        if path is not None:
            path.unlink(missing_ok=True)

    def purge(self) -> int:
        if time.monotonic() - self._last < self.every or not self.folder.is_dir():
            return 0
        self._last = time.monotonic()
        cutoff, gone = time.time() - self.keep.total_seconds(), 0
        for path in self.folder.iterdir():
            if _REF.match(f"upload:{path.name}") and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                gone += 1
        return gone


def _static(name: str) -> str:
    return (resources.files("bot.channels") / "webchat_static" / name).read_text(encoding="utf-8")


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie, Secure also when this request came over https through a
    trusted proxy (server.proxies), not only when server.public_url says https."""

    def get_cookie_secure(self, app) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)

    def open_session(self, app, request):
        """None for a provider's webhook (no cookie, no session: Flask hands it a null one
        and saves nothing), which spares the busiest path the cookie's signer."""
        if request.path.startswith("/webhooks/"):
            return None
        return super().open_session(app, request)


def install(app, runtime) -> None:
    """The cookie's settings on the app (the web chat is its only user)."""
    s = runtime.settings
    app.session_interface = _CookieSessions()
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SECURE=(s.server.public_url or "").startswith("https://"),
                      PERMANENT_SESSION_LIFETIME=timedelta(days=s.webchat.session_days))


def _visitor(runtime, create: bool = True) -> str | None:
    """This browser's chat id: the cookie's while it names a live session, else a new one
    (`create`; else None: a poll without a session writes nothing, so cookie-less requests
    cannot fill the table)."""
    if "aduan_chat" in g:
        return g.aduan_chat
    now, lifetime = runtime.clock(), timedelta(days=runtime.settings.webchat.session_days)
    visitor, nonce = session.get(_key(runtime, "visitor")), session.get(_key(runtime, "nonce"))
    with runtime.transaction() as s:
        known = isinstance(visitor, str) and _VISITOR.match(visitor) is not None
        if known and isinstance(nonce, str) and chat_sessions.resolve(s, CHANNEL, f"w-{visitor}", nonce, now, lifetime):
            g.aduan_chat = f"w-{visitor}"
            return g.aduan_chat
        adopted = chat_sessions.adopt(s, CHANNEL, f"w-{visitor}", now) if known and nonce is None else None
        if adopted is None and not create:
            g.aduan_fresh = True
            return None
        if adopted is None:  # no cookie, an ended or expired session, or a copy of a rotated one
            visitor, g.aduan_fresh = uuid.uuid4().hex, True
            nonce = chat_sessions.start(s, CHANNEL, f"w-{visitor}", now)
        else:
            nonce = adopted
    session.update({_key(runtime, "visitor"): visitor, _key(runtime, "nonce"): nonce})
    session.permanent = True
    g.aduan_chat = f"w-{visitor}"
    return g.aduan_chat


def _rotate_if_raised(runtime, chat: str) -> None:
    """After a message: a new nonce in the cookie if the chat just gained rights."""
    with runtime.transaction() as s:
        nonce = chat_sessions.rotate_if_raised(s, CHANNEL, chat, runtime.clock())
    if nonce is not None:
        session[_key(runtime, "nonce")] = nonce


HANDLED_WAIT = 3.0  # seconds a post waits for its message to be handled (usually milliseconds)


def _wait_handled(runtime, provider_message_id: str) -> None:
    deadline = time.monotonic() + HANDLED_WAIT
    while True:
        with runtime.sessions() as s:
            if inbound_queue.is_handled(s, CHANNEL, provider_message_id):
                return
        if time.monotonic() >= deadline:
            return
        time.sleep(0.02)


def _too_fast(runtime, chat: str):
    """A 429 in the visitor's language if they post faster than the limit, else None."""
    refused = runtime.admit(CHANNEL, chat)
    if refused is None:
        return None
    response = jsonify(error=t(_language(runtime, chat), "limit.messages"), retry_after=round(refused.seconds, 2))
    response.status_code = 429
    response.headers["Retry-After"] = str(max(1, int(refused.seconds + 0.999)))
    return response


def _office():
    """The office this request is for: the one in the path (/o/<office>/), else the one
    whose own host name this is, else the first office. (An unknown one was a 404 before
    the view ran.)"""
    if "aduan_office" in g:
        return g.aduan_office
    deployment = current_app.extensions["aduan"]
    g.aduan_office = deployment.office_for_host(request.host) or deployment.default
    return g.aduan_office


def _key(runtime, name: str) -> str:
    """A cookie key of this office's: one browser may talk to several offices' web chats."""
    return name if runtime.id == FIRST_OFFICE else f"{name}-{runtime.id}"


def blueprint() -> Blueprint:
    """Registered twice: at / (the first office, or the office of the host name) and at
    /o/<office>/."""
    bp = Blueprint("webchat", __name__)

    @bp.url_value_preprocessor
    def _office_of_path(_endpoint, values):
        code = (values or {}).pop("office", None)
        if code is not None:
            found = current_app.extensions["aduan"].office_by_code(code)
            if found is None or not found.settings.webchat.enabled:
                abort(404)
            g.aduan_office = found

    @bp.before_request
    def _enabled():
        if not _office().settings.webchat.enabled:
            abort(404)

    @bp.get("/")
    @bp.get("/survei")
    @bp.get("/survey")
    def page():
        """The chat page: plain HTML/CSS/JS, nothing from a CDN. At /survei (or /?survei=1,
        the link an office puts on its counter or website) it opens with the survey."""
        runtime = _office()
        title = runtime.settings.webchat.title or runtime.settings.office.name
        survey = request.path.endswith(("/survei", "/survey")) or "survei" in request.args or "survey" in request.args
        base = "" if request.blueprint == "webchat" else f"/o/{runtime.code}"
        html = (_static("index.html").replace("{{title}}", _escape(title)).replace("{{base}}", base)
                .replace("{{start}}", "/survei" if survey else "/mulai"))
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
        """A visitor's message or button press; 200 once it is stored (the reply follows in
        the outbox a moment later, when a worker has handled it: the page polls for it)."""
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not _ID.match(data["id"]):
            return jsonify(error="send JSON with an id of 8-64 letters, digits, '-' or '_'"), 400
        text, button = data.get("text"), data.get("button")
        if (text is not None and not isinstance(text, str)) or (button is not None and not isinstance(button, str)):
            return jsonify(error="text and button must be strings"), 400
        if text is not None and len(text) > MAX_TEXT:
            return jsonify(error=f"at most {MAX_TEXT} characters in one message"), 413
        runtime = _office()
        chat = _visitor(runtime)
        if (refused := _too_fast(runtime, chat)) is not None:
            return refused
        inbound = Inbound(CHANNEL, chat, f"{chat}:{data['id']}", text=text, button=button,
                          language_hint=request.accept_languages.best_match(["id", "en"]),
                          origin=request.remote_addr)  # abuse limits and enrolment guesses per address
        runtime.receive(CHANNEL, inbound.provider_message_id, inbound, {"id": data["id"]})
        # The session's nonce rotates in the response to the message that raised its rights
        # (consent, /petugas, /status TICKET CODE), never on a poll, which anyone holding a
        # copy of the old cookie could win. So this post waits, bounded, for its message to
        # be handled; if it is not by then, the visitor's next post rotates it.
        _wait_handled(runtime, inbound.provider_message_id)
        _rotate_if_raised(runtime, chat)
        return jsonify(ok=True)

    @bp.post("/webchat/api/session/end")
    def end_session():
        """"End session": this visitor id is dead for good; the next visit is a new visitor."""
        runtime = _office()
        chat = _visitor(runtime, create=False)
        if chat is not None:
            with runtime.transaction() as s:
                chat_sessions.end(s, CHANNEL, chat, runtime.clock())
        session.pop(_key(runtime, "visitor"), None)
        session.pop(_key(runtime, "nonce"), None)
        return jsonify(ok=True)

    @bp.post("/webchat/api/files")
    def post_file():
        """A visitor's photo or document (multipart: id, file); 200 once it is stored."""
        runtime = _office()
        chat = _visitor(runtime)
        if (refused := _too_fast(runtime, chat)) is not None:
            return refused
        lang = _language(runtime, chat)
        limit = runtime.settings.intake.max_attachment_mb * 1024 * 1024
        too_big = t(lang, "webchat.upload_too_big", mb=runtime.settings.intake.max_attachment_mb)
        if request.content_length is None:
            return jsonify(error=too_big), 411  # browsers always say how long a form is
        if request.content_length > limit + FORM_ROOM:
            return jsonify(error=too_big), 413  # refused before a byte of it is read
        request.max_content_length = limit + FORM_ROOM  # and the stream is cut there anyway
        msg_id, upload = request.form.get("id", ""), request.files.get("file")
        if not _ID.match(msg_id):
            return jsonify(error="send an id of 8-64 letters, digits, '-' or '_'"), 400
        if upload is None or not upload.filename:
            return jsonify(error=t(lang, "webchat.upload_missing")), 400
        data = upload.stream.read(limit + 1)
        if len(data) > limit:
            return jsonify(error=too_big), 413
        name = os.path.basename(upload.filename.replace("\\", "/"))[:200]
        kind = upload.mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream"
        file = Attachment("photo" if kind.startswith("image/") else "document", None, kind, len(data), name)
        problem = attachment_problem(file, runtime.conversation.office.rules(CHANNEL))
        if problem:  # the same rules as a file sent on Telegram or WhatsApp, before storing it
            return jsonify(error=t(lang, problem[0], **problem[1])), 415
        ref = runtime.uploads.put(data)
        inbound = Inbound(CHANNEL, chat, f"{chat}:{msg_id}", attachments=(replace(file, ref=ref),),
                          language_hint=request.accept_languages.best_match(["id", "en"]),
                          origin=request.remote_addr)
        try:
            new = runtime.receive(CHANNEL, inbound.provider_message_id, inbound, {"id": msg_id, "file": ref})
        except Exception:
            runtime.uploads.discard(ref)
            raise
        if not new:  # a retried post: the first one's file is the one kept
            runtime.uploads.discard(ref)
        return jsonify(ok=True)

    @bp.get("/webchat/api/messages")
    def get_messages():
        """The bot's messages to this visitor after id N (the page polls)."""
        try:
            after = int(request.args.get("after", "0"))
        except ValueError:
            return jsonify(error="after must be a number"), 400
        runtime = _office()
        chat = _visitor(runtime, create=False)
        # "fresh": this browser has no live session (ended, expired, or never had one): the
        # page drops what it shows of an old conversation; its next message starts one.
        messages = runtime.fetch_webchat(chat, after) if chat is not None else []
        return jsonify(messages=messages, fresh=bool(g.get("aduan_fresh")))

    return bp


def _language(runtime, chat: str) -> str:
    """The language the visitor chose in the conversation, else the browser's."""
    with runtime.sessions() as s:
        chosen = s.scalar(select(Citizen.language).join(CitizenIdentity).where(
            CitizenIdentity.channel == CHANNEL, CitizenIdentity.external_id == chat))
    return chosen or language(request.accept_languages.best_match(["id", "en"]))


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))
