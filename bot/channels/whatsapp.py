"""WhatsApp through Twilio: the webhook (messages and status callbacks in) and the
Messages API (out).

In: `POST /webhooks/whatsapp`, authenticated by X-Twilio-Signature, checked with
twilio's RequestValidator against `whatsapp.public_url`: the URL exactly as Twilio
calls it, whatever a TLS-terminating proxy turns it into on the way here.
Out: menus become numbered lists (the citizen answers "1", "satu" or the label).
Outside the 24-hour window only an approved template may be sent; without one the
message is held until the citizen writes again.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

from flask import Blueprint, current_app, request
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.base import FAILED, HELD, RETRY, SENT, Outgoing, SendResult
from storage.outbox import split_text  # the providers' hard limits, as a guard
from flows.messages import Attachment, Inbound

log = logging.getLogger(__name__)
CHANNEL = "whatsapp"
TEXT_LIMIT = 1600
WINDOW = timedelta(hours=24)
SID_MAX = 64  # Twilio's ids are 34 characters (SM + 32 hex); the columns hold 100
_TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_PERMANENT_TWILIO_ERRORS = {21211, 21408, 21614, 63003, 63024, 63032}
_UNREACHABLE_TWILIO_ERRORS = {21610}  # the recipient opted out (STOP)


def _address(value: str) -> str:
    return value.removeprefix("whatsapp:")


def parse_message(form) -> Inbound:
    """A Twilio WhatsApp message webhook -> Inbound (chat id: the E.164 number)."""
    sid, sender = form.get("MessageSid"), form.get("From", "")
    if not sid or len(sid) > SID_MAX or not sender.startswith("whatsapp:+") or len(sender) > 40:
        raise ValueError("not a WhatsApp message")
    try:
        count = max(0, min(int(form.get("NumMedia") or 0), 10))
    except ValueError:
        raise ValueError("NumMedia is not a number") from None
    files = []
    for n in range(count):
        url, kind = form.get(f"MediaUrl{n}"), form.get(f"MediaContentType{n}") or ""
        if url:
            media = ("photo" if kind.startswith("image/") else "voice" if kind.startswith("audio/")
                     else "video" if kind.startswith("video/") else "document")
            files.append(Attachment(media, url, kind or None))
    if form.get("Latitude") and form.get("Longitude"):
        files.append(Attachment("location", f"{form['Latitude']},{form['Longitude']}"))
    phone = _address(sender)
    # No button payload is taken: Aduan sends menus as numbered lists, never quick-reply
    # templates, so a ButtonPayload can only be forged (or come from a template an office
    # made itself, whose tap also arrives as its text in Body, which is what is read).
    return Inbound(CHANNEL, phone, sid, text=form.get("Body") or None,
                   attachments=tuple(files), phone=phone)


def blueprint() -> Blueprint:
    bp = Blueprint("whatsapp", __name__)

    @bp.post("/webhooks/whatsapp")
    def webhook():
        """Twilio in: 403 on a bad signature; 200 only once the message is stored. The office
        is the one whose sender number the message went to (`To`; a delivery report's
        `From`), else the first office."""
        deployment = current_app.extensions["aduan"]
        params = request.form.to_dict(flat=True)
        status_report = "MessageStatus" in params and "Body" not in params and "NumMedia" not in params
        ours = params.get("From") if status_report else params.get("To")
        runtime = deployment.office_for_whatsapp(ours) or deployment.default
        cfg = runtime.settings.whatsapp
        signature = request.headers.get("X-Twilio-Signature", "")
        if cfg.auth_token is None or cfg.public_url is None or not signature or \
                not RequestValidator(cfg.auth_token.get_secret_value()).validate(cfg.public_url, params, signature):
            return "forbidden", 403
        if "\x00" in params.get("MessageSid", ""):  # never a Twilio id; PostgreSQL text cannot hold it
            return "not a WhatsApp message", 400
        if status_report:
            if len(params.get("MessageSid", "")) > SID_MAX:
                return "not a Twilio message id", 400
            runtime.record_delivery_status(CHANNEL, params.get("MessageSid", ""), params["MessageStatus"],
                                           params.get("ErrorCode"))
            return _TWIML_EMPTY, 200, {"Content-Type": "text/xml"}
        try:
            inbound = parse_message(params)
        except ValueError as exc:
            return str(exc), 400
        runtime.receive(CHANNEL, inbound.provider_message_id, inbound, params)
        return _TWIML_EMPTY, 200, {"Content-Type": "text/xml"}

    return bp


def render(payload: dict) -> str:
    """Text with its buttons as a numbered list."""
    options = [b["label"] for row in payload.get("buttons", []) for b in row]
    if not options:
        return payload["text"]
    if options == [str(n) for n in range(1, len(options) + 1)]:  # a scale: "1 · 2 · 3 · 4 · 5"
        return payload["text"] + "\n\n" + " · ".join(options)
    return payload["text"] + "\n\n" + "\n".join(f"{n}. {label}" for n, label in enumerate(options, 1))


class WhatsAppSender:
    channel = CHANNEL

    def __init__(self, account_sid: str, auth_token: str, from_number: str, api_base_url: str,
                 templates: dict[str, str], status_callback: str | None = None, clock=None, links=None):
        self.client = Client(account_sid, auth_token)
        self.client.api.base_url = api_base_url.rstrip("/")
        self.from_ = from_number if from_number.startswith("whatsapp:") else f"whatsapp:{from_number}"
        self.templates = templates
        self.status_callback = status_callback
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.links = links  # bot.files.FileLinks: officers' attachments become signed links

    def send(self, message: Outgoing) -> SendResult:
        to = f"whatsapp:{message.chat_id}"
        extra = {"status_callback": self.status_callback} if self.status_callback else {}
        try:
            if message.last_inbound_at is None or self.clock() - message.last_inbound_at > WINDOW:
                sid = self.templates.get(message.purpose or "") or self.templates.get("default")
                if not sid:
                    return SendResult(HELD, error="outside the 24-hour window and no approved template "
                                                  f"for purpose {message.purpose or 'default'!r}; held "
                                                  "until the citizen writes again")
                # A template variable holds at most 1,024 characters; the rest waits in the
                # row (the citizen sees it all with /status once they write).
                text = self._render(message.payload)[:1000]
                sent = self.client.messages.create(to=to, from_=self.from_, content_sid=sid,
                                                   content_variables=json.dumps({"1": text}), **extra)
                return SendResult(SENT, provider_message_id=sent.sid, template_sid=sid)
            ids = [self.client.messages.create(to=to, from_=self.from_, body=part, **extra).sid
                   for part in split_text(self._render(message.payload), TEXT_LIMIT)]
            return SendResult(SENT, provider_message_id=",".join(ids))
        except TwilioRestException as exc:
            if exc.status == 429 or exc.status >= 500:
                return SendResult(RETRY, delay=10, error=f"twilio {exc.status} {exc.code}")
            if exc.code == 63016:  # outside the 24-hour window after all: wait for the citizen
                return SendResult(HELD, error="twilio 63016: outside the 24-hour window")
            if exc.code in _UNREACHABLE_TWILIO_ERRORS:
                return SendResult(FAILED, error=f"undeliverable: twilio {exc.code}")
            if exc.code in _PERMANENT_TWILIO_ERRORS or 400 <= exc.status < 500:
                return SendResult(FAILED, error=f"twilio {exc.status} {exc.code}")  # msg may quote the number
            return SendResult(RETRY, delay=10, error=f"twilio {exc.status} {exc.code}")
        except OSError as exc:  # connection refused, timeouts
            return SendResult(RETRY, delay=10, error=f"network: {exc}")

    def _render(self, payload: dict) -> str:
        if self.links is not None and (payload.get("links") or payload.get("file")):
            payload = dict(payload, text=self.links.text(payload))
        return render(payload)

    def fetch(self, url: str, max_bytes: int) -> bytes:
        """Download a media URL Twilio gave us (with the account's credentials)."""
        import httpx

        from bot.attachments import FetchError

        if not url.startswith(self.client.api.base_url + "/"):
            raise FetchError("media URL is not on the Twilio API")  # never fetch arbitrary URLs
        with httpx.stream("GET", url, auth=(self.client.username, self.client.password),
                          follow_redirects=True, timeout=30) as r:
            if r.status_code in (403, 404):
                raise FetchError(f"Twilio answered {r.status_code}")
            r.raise_for_status()
            data = b""
            for chunk in r.iter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise FetchError("file is over the limit")
            return data

    def close(self) -> None:
        pass
