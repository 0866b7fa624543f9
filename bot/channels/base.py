"""The small contract every channel keeps."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

SENT, RETRY, FAILED, HELD = "sent", "retry", "failed", "held"
# Provider ids and chat ids are kept in String(100) columns. A longer one is no provider's
# and is refused with a 400 at the webhook: stored, PostgreSQL would refuse it with an
# error, a 500, and the provider would retry that delivery forever.
ID_MAX = 100


def ids_fit(*values: str | None) -> bool:
    return all(v is None or len(v) <= ID_MAX for v in values)


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
    paced: bool = False  # retry: the provider asked us to slow down (429): not a failed attempt


class Sender(Protocol):
    channel: str

    def send(self, message: Outgoing) -> SendResult: ...

    def close(self) -> None: ...


