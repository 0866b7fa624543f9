"""The small contract every channel keeps."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

SENT, RETRY, FAILED, HELD = "sent", "retry", "failed", "held"


@dataclass(frozen=True)
class Outgoing:
    """An outbox row as a sender sees it (no database session attached)."""

    id: int
    chat_id: str
    payload: dict
    purpose: str | None = None
    last_inbound_at: datetime | None = None  # for WhatsApp's 24-hour window


@dataclass(frozen=True)
class SendResult:
    status: str  # sent | retry | failed | held
    provider_message_id: str | None = None
    delay: float = 0.0  # retry: wait at least this long
    error: str | None = None
    template_sid: str | None = None


class Sender(Protocol):
    channel: str

    def send(self, message: Outgoing) -> SendResult: ...

    def close(self) -> None: ...


def split_text(text: str, limit: int) -> list[str]:
    """Cut a long text into parts of at most `limit` characters, at line or word ends."""
    parts = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    parts.append(text)
    return parts
