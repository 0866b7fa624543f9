"""Officers' attachment links: `GET /files/<token>` serves a citizen's stored file.

Where a channel cannot carry the file itself (WhatsApp, the web chat), the officer gets a
link. The token is signed with the app's secret key over (attachment id, officer id,
expiry), so it cannot be made up or stretched; it is not the whole check: every request
looks again whether that officer is still active and may still see the case (role and
unit, the same rule as the case card), because a link outlives the moment it was given.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, send_file
from itsdangerous import BadSignature, URLSafeSerializer

from flows.i18n import t
from handlers.files import download_name
from storage.models import Attachment, Case, Officer
from storage.visibility import may_see

log = logging.getLogger(__name__)
SALT = "aduan-attachment-link"  # a token is never mistaken for a session cookie
INLINE = ("image/jpeg", "image/png", "image/gif", "image/webp")  # shown in the browser; the rest downloads
CHANNELS = {"telegram": "Telegram", "whatsapp": "WhatsApp", "webchat": "web chat"}


class BadLink(Exception):
    pass


class FileLinks:
    def __init__(self, secret: str, base_url: str, lifetime: timedelta,
                 clock: Callable[[], datetime]):
        self.signer = URLSafeSerializer(secret, salt=SALT)
        self.base, self.lifetime, self.clock = base_url.rstrip("/"), lifetime, clock

    def url(self, attachment_id: int, officer_id: int) -> str:
        expires = int((self.clock() + self.lifetime).timestamp())
        return f"{self.base}/files/{self.signer.dumps([attachment_id, officer_id, expires])}"

    def read(self, token: str) -> tuple[int, int, datetime]:
        """(attachment id, officer id, expiry) of a token this deployment signed."""
        try:
            attachment_id, officer_id, expires = self.signer.loads(token)
            return int(attachment_id), int(officer_id), datetime.fromtimestamp(int(expires), timezone.utc)
        except (BadSignature, ValueError, TypeError):
            raise BadLink() from None

    def render(self, payload: dict) -> list[dict]:
        """The links an outbox payload asks for (the card's list, or one handed-over file),
        signed now: a message held back for a while still gets its full lifetime."""
        refs = list(payload.get("links") or []) + ([payload["file"]] if payload.get("file") else [])
        return [{"label": r["label"], "url": self.url(r["attachment"], r["officer"])} for r in refs]

    def text(self, payload: dict) -> str:
        """The payload's text with its links under it, for channels that show only text."""
        links = self.render(payload)
        if not links:
            return payload["text"]
        return payload["text"] + "\n\n" + "\n".join(f"📎 {x['label']}: {x['url']}" for x in links)


def base_url(server_public_url: str | None, whatsapp_public_url: str | None) -> str:
    """server.public_url; else the origin of the WhatsApp webhook's URL; else "" (links
    relative to the page, which is enough for the web chat)."""
    if server_public_url:
        return server_public_url.rstrip("/")
    if whatsapp_public_url:
        parts = urlsplit(whatsapp_public_url)
        return f"{parts.scheme}://{parts.netloc}"
    return ""


def _say(status: int, text: str, **headers) -> Response:
    return Response(text + "\n", status=status, content_type="text/plain; charset=utf-8",
                    headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                             "Referrer-Policy": "no-referrer", **headers})


def blueprint() -> Blueprint:
    bp = Blueprint("files", __name__)

    @bp.get("/files/<token>")
    def open_file(token: str):
        """A stored attachment for the officer the link was made for, while it may see it."""
        runtime = current_app.extensions["aduan"]
        try:
            attachment_id, officer_id, expires = runtime.file_links.read(token)
        except BadLink:
            return _say(404, f"{t('id', 'files.not_found')}\n{t('en', 'files.not_found')}")
        with runtime.sessions() as s:
            officer = s.get(Officer, officer_id)
            lang = officer.language if officer is not None else "id"
            if expires <= runtime.clock():
                return _say(403, t(lang, "files.expired"))
            attachment = s.get(Attachment, attachment_id)
            if officer is None or not officer.active or officer.revoked_at is not None:
                log.info("refused: attachment link of an inactive officer #%s", officer_id)
                return _say(403, t(lang, "files.not_allowed"))
            if attachment is None:
                return _say(404, t(lang, "files.not_found"))
            case = s.get(Case, attachment.case_id)
            office = runtime.office(attachment.office_id)
            if office is None or officer.office_id != attachment.office_id or \
                    not may_see(office.cases.workflow_of(case), officer, case):
                log.info("refused: officer #%s, attachment #%s of another unit", officer.id, attachment.id)
                return _say(403, t(lang, "files.not_allowed"))
        log.info("attachment #%s opened by officer #%s", attachment_id, officer_id)
        return serve(runtime, attachment, lang)

    return bp


def serve(runtime, attachment: Attachment, lang: str) -> Response:
    """The stored file of an attachment the caller has checked the officer may see: images
    inline, the rest as a download, never as a page of ours."""
    channel = CHANNELS.get(attachment.channel, attachment.channel)
    if attachment.stored_path is None and attachment.fetch_error:
        return _say(404, t(lang, "files.fetch_failed", channel=channel))
    if attachment.stored_path is None:
        return _say(503, t(lang, "files.not_fetched", channel=channel), **{"Retry-After": "60"})
    path = Path(attachment.stored_path).resolve()
    folder = Path(runtime.settings.intake.attachments_dir).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        log.warning("attachment #%s: the stored file is missing", attachment.id)
        return _say(404, t(lang, "files.not_found"))
    kind = (attachment.content_type or "application/octet-stream").split(";")[0].strip().lower()
    response = send_file(path, mimetype=kind, as_attachment=kind not in INLINE, download_name=download_name(attachment),
                         max_age=0, etag=False)
    response.headers.update({
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "Referrer-Policy": "no-referrer",
        # a citizen's file is never a page of ours: no script, no frames, nothing loaded
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox"})
    return response
