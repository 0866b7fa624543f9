"""Officers opening a citizen's files: the attachment part of the case card, and the files
handed over when its "Attachments" button is pressed.

Channel-neutral: a file is handed to the adapter as a reference (attachment id, the
officer it is for, kind, type, name, and where it can be had: the Telegram file id of a
file that came by Telegram, the stored copy otherwise). The adapter turns it into what
its channel carries: Telegram sends the file itself; WhatsApp and the web chat show a
signed, expiring link that Aduan serves (bot/files.py), which checks the officer again.
"""
from __future__ import annotations

import mimetypes

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.i18n import t
from flows.messages import Button, Reply
from storage.models import Attachment, Case, Officer

FETCHABLE = ("photo", "document", "voice", "audio", "video")  # files; a location is a text
BUTTON = "f"  # callback payload f|TICKET: "send me this case's files"


def files_of(session: Session, case: Case) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(Attachment.case_id == case.id)
                                .order_by(Attachment.id)))


def size_text(n: int | None) -> str:
    if n is None:
        return ""
    if n < 1024 * 1024:
        return f"{max(1, round(n / 1024))} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def download_name(a: Attachment) -> str:
    """The citizen's own file name, else e.g. "photo-12.jpg"."""
    if a.filename:
        return a.filename
    ext = mimetypes.guess_extension(a.content_type or "") or ".bin"
    return f"{a.media_type}-{a.id}{ext}"


def label(a: Attachment, lang: str) -> str:
    """"Foto · image/jpeg · 120 KB" (and the file's name when it had one)."""
    parts = [t(lang, f"attachment.kind.{a.media_type}")]
    if a.media_type == "location":
        return f"{parts[0]} {a.provider_ref or '-'}"
    parts += [x for x in (a.filename, a.content_type, size_text(a.size)) if x]
    return " · ".join(parts)


def _status(a: Attachment, lang: str) -> str:
    if a.media_type not in FETCHABLE or a.stored_path:
        return ""
    if a.fetch_error:
        return " · " + t(lang, "attachment.fetch_failed")
    return " · " + t(lang, "attachment.not_fetched")


def reference(a: Attachment, officer: Officer, lang: str) -> dict:
    ref = {"attachment": a.id, "officer": officer.id, "kind": a.media_type, "type": a.content_type,
           "name": download_name(a), "label": label(a, lang)}
    if a.channel == "telegram" and a.provider_ref:
        ref["telegram_file_id"] = a.provider_ref  # Telegram re-sends it without an upload
    if a.stored_path:
        ref["path"] = a.stored_path
    return ref


def card_part(found, ticket: str, officer: Officer, lang: str):
    """(lines, buttons, links) of the card's attachment part (`found`: a CaseView's
    attachments); nothing without files."""
    if not found:
        return [], [], ()
    lines = ["", t(lang, "officer.card.attachments", n=len(found))]
    lines += [f"• {label(a, lang)}{_status(a, lang)}" for a in found]
    files = [a for a in found if a.media_type in FETCHABLE]
    if not files:
        return lines, [], ()
    # A link is worth listing while the file is stored or still on its way.
    links = tuple(reference(a, officer, lang) for a in files if a.stored_path or not a.fetch_error)
    return lines, [Button(t(lang, "officer.button.files", n=len(files)), f"{BUTTON}|{ticket}")], links


def hand_over(found, ticket: str, officer: Officer, lang: str) -> list[Reply]:
    """One message per file (`found`: the attachments of a case this officer may see)."""
    files = [a for a in found if a.media_type in FETCHABLE]
    if not files:
        return [Reply(t(lang, "officer.files.none", ticket=ticket))]
    replies = []
    for n, a in enumerate(files, 1):
        caption = t(lang, "officer.files.caption", ticket=ticket, file=label(a, lang), n=n,
                    total=len(files))
        if a.stored_path or (a.channel == "telegram" and a.provider_ref):
            replies.append(Reply(caption, file=reference(a, officer, lang), meta={"ticket": ticket}))
        else:
            key = "officer.files.failed" if a.fetch_error else "officer.files.pending"
            replies.append(Reply(t(lang, key, file=caption)))
    return replies
