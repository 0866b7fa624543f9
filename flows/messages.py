"""What flows between a channel and the conversation: channel-neutral messages.

Adapters turn a Telegram update, a Twilio form post or a web chat POST into an
`Inbound`; the conversation answers with `Reply` objects that adapters render as
inline buttons (Telegram), numbered lists (WhatsApp) or buttons (web chat).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\w+)?(?:\s+(.*))?$", re.S)


# C0 controls but tab and newline, DEL, and the C1 controls: no person types them. NUL
# cannot be held by PostgreSQL text (a webhook carrying it would fail every retry), and
# ESC/CSI sequences in a name or a text would drive the terminal of whoever prints it
# (`aduan cases show`): a forged colour, a cleared screen, a rewritten line.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """`text` without control characters; newline and tab stay, and a CR is a newline."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _drop_controls(obj) -> None:
    """At the channel boundary: every string an adapter hands in, cleaned once."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, str) and _CONTROLS.search(value):
            object.__setattr__(obj, f.name, strip_controls(value))


@dataclass(frozen=True)
class Attachment:
    kind: str  # photo, document, voice, audio, video, sticker, location, contact
    ref: str | None = None  # Telegram file_id or Twilio media URL
    content_type: str | None = None
    size: int | None = None
    filename: str | None = None

    def __post_init__(self):
        _drop_controls(self)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Inbound:
    channel: str
    chat_id: str
    provider_message_id: str
    text: str | None = None
    button: str | None = None  # the payload of a pressed button
    attachments: tuple[Attachment, ...] = ()
    language_hint: str | None = None
    phone: str | None = None  # WhatsApp sender, or a contact the citizen shared
    reply_to: str | None = None  # the provider id of the message this one answers (Telegram)
    event: str = "message"  # message | blocked | unblocked
    origin: str | None = None  # the client address the web chat saw, for abuse limits: kept until handled, then dropped

    def __post_init__(self):
        _drop_controls(self)

    @property
    def command(self) -> tuple[str, str] | None:
        """("status", "ADU-2025-000001") for "/status ADU-2025-000001" (and /status@bot)."""
        m = _COMMAND.match((self.text or "").strip())
        return (m[1].lower(), (m[2] or "").strip()) if m else None

    @property
    def plain_text(self) -> str:
        return (self.text or "").strip() if self.command is None else ""


@dataclass(frozen=True)
class Button:
    label: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    ask_contact: str | None = None  # label of a "share my phone number" button (Telegram)
    remove_keyboard: bool = False  # take the contact button away again
    meta: dict | None = None  # what a reply to this message means (officers' case cards)
    photo: str | None = None  # a picture (base64 PNG) to send with the text: the report's chart
    # Officers' access to a citizen's files (handlers.files makes them; adapters render them):
    # `links` are listed on a case card where a channel shows links (WhatsApp, web chat),
    # `file` is one file to hand over (Telegram sends the file itself, others a link).
    links: tuple[dict, ...] = ()
    file: dict | None = None
    wants_files: bool = False  # the question takes photos or documents (the web chat's attach button)

    @classmethod
    def from_payload(cls, payload: dict) -> Reply:
        """The question an outbox row asked, to ask it again (text and buttons)."""
        return cls(payload.get("text", ""), tuple(tuple(Button(b["label"], b["payload"]) for b in row)
                                                  for row in payload.get("buttons", ())),
                   meta=payload.get("meta"))

    @property
    def options(self) -> list[Button]:
        return [b for row in self.buttons for b in row]

    def as_payload(self) -> dict:
        """The JSON kept in the outbox row."""
        payload: dict = {"text": self.text}
        if self.buttons:
            payload["buttons"] = [[{"label": b.label, "payload": b.payload} for b in row]
                                  for row in self.buttons]
        if self.ask_contact:
            payload["ask_contact"] = self.ask_contact
        if self.remove_keyboard:
            payload["remove_keyboard"] = True
        if self.meta:
            payload["meta"] = self.meta
        if self.photo:
            payload["photo"] = self.photo
        if self.links:
            payload["links"] = [dict(x) for x in self.links]
        if self.file:
            payload["file"] = dict(self.file)
        if self.wants_files:
            payload["wants_files"] = True
        return payload


def rows(*buttons: Button, per_row: int = 1) -> tuple[tuple[Button, ...], ...]:
    """Lay buttons out `per_row` to a row."""
    return tuple(tuple(buttons[i:i + per_row]) for i in range(0, len(buttons), per_row))


@dataclass
class Outcome:
    """What one step of a dialog produced."""

    replies: list[Reply] = field(default_factory=list)
    effects: list = field(default_factory=list)
