"""Inbound messages: recorded once (the provider's id is unique per channel), then handled
in order per chat by the workers. The table is the queue: a row with no `handled_at` is
still to handle.

What a webhook stores is what handling needs: the normalized message (storage's
`pending` payload: the text, the button, the files' references, the language hint, the
sender's number, the client address the web chat saw for its abuse limits), never the
provider's raw payload. It is kept only until the message is handled: the transaction
that writes the message's effects and its `handled_at` also reduces the payload to its
outline (what kind of event, which command without its argument, how many files), which
is all that dedupe and audit need. Why not keep more: what it carries is exactly what must
not stay readable (the citizen's name, phone and complaint as typed, an officer's
enrolment code `/petugas CODE`, the fields of a form the citizen then cancelled), and
every stored hour is in the database's backups and write-ahead log.

Order and claims: a worker takes a chat, not a row. `pending_chats` lists the chats with
work, fairly across offices: each office's oldest waiting chat first, then each office's
second, and so on, so one office's burst (a viral complaint) never queues another office
behind it; `claim_chat` holds that chat for the transaction (PostgreSQL: a
transaction-scoped advisory lock on the chat, the same key as storage.db's
lock_conversation, tried without waiting so the worker moves on to another chat; SQLite:
the unit of work already holds the one write lock); then `next_of_chat` reads the lowest
unhandled id of the chat, after the lock, so it sees every commit before it.
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from functools import cache

from sqlalchemy import Connection, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from flows.messages import Attachment, Inbound
from storage import chat_context
from storage.db import chat_key
from storage.models import InboundMessage
from storage.scoping import office_of


def outline(inbound: Inbound | None) -> dict:
    """The audit record of a delivery: no text, no name, no number, no command argument."""
    if inbound is None:
        return {"event": "ignored"}  # an edited message, a group chat, ...: nothing was done
    out: dict = {"event": inbound.event}
    if inbound.command:
        out["command"] = inbound.command[0][:40]
    if inbound.button is not None:
        out["button"] = True
    if inbound.attachments:
        out["attachments"] = [a.kind for a in inbound.attachments][:20]
    return out


def pending_payload(inbound: Inbound) -> dict:
    """What handling needs of the message, kept until it is handled."""
    return {"pending": asdict(inbound)}


def inbound_of(row: InboundMessage) -> Inbound | None:
    data = (row.payload or {}).get("pending")
    if data is None:
        return None
    data = dict(data, attachments=tuple(Attachment(**a) for a in data.get("attachments") or ()))
    return Inbound(**data)


def store(conn: Connection, office_id: int, channel: str, provider_message_id: str, inbound: Inbound | None,
          now: datetime) -> bool:
    """Store a delivery to be handled; False if it was stored before (a retry or a
    duplicate). One statement: INSERT ... ON CONFLICT DO NOTHING, on PostgreSQL and SQLite
    alike, on a plain connection (no unit of work: the webhook's whole transaction is this
    statement, and on SQLite it takes the write lock itself). A delivery with nothing to do
    (None) is stored as handled already."""
    stored = conn.execute(_store_statement(conn.dialect.name), {
        "office_id": office_id, "channel": channel, "provider_message_id": provider_message_id,
        "chat_id": inbound.chat_id if inbound else None,
        "payload": pending_payload(inbound) if inbound else outline(None),
        "received_at": now, "handled_at": None if inbound else now, "tries": 0}).scalar_one_or_none()
    return stored is not None


@cache
def _store_statement(dialect_name: str):
    """Built once: the values come as parameters (building the statement anew each time was
    a quarter of an acknowledgement's cost)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = InboundMessage.__table__
    return (dialect.insert(table).on_conflict_do_nothing(index_elements=["office_id", "channel", "provider_message_id"])
            .returning(table.c.id))


def pending_chats(session: Session, limit: int = 50) -> list[tuple[int, str, str]]:
    """(office, channel, chat) of the chats with unhandled messages, fairly across offices:
    the chats ranked by how long they have waited within their office, then by that rank,
    so a round takes each office's oldest chat before any office's second. Read across
    offices: the caller then works in each office's own session."""
    first = func.min(InboundMessage.id)
    rank = func.row_number().over(partition_by=InboundMessage.office_id, order_by=first)
    waiting = (select(InboundMessage.office_id, InboundMessage.channel, InboundMessage.chat_id,
                      first.label("first"), rank.label("rank"))
               .where(InboundMessage.handled_at.is_(None))
               .group_by(InboundMessage.office_id, InboundMessage.channel, InboundMessage.chat_id)
               .subquery())
    rows = session.execute(select(waiting.c.office_id, waiting.c.channel, waiting.c.chat_id)
                           .order_by(waiting.c.rank, waiting.c.first).limit(limit)).all()
    return [(office, channel, chat) for office, channel, chat in rows]


def claim_chat(session: Session, channel: str, chat_id: str) -> bool:
    """Hold this chat (of the session's office) until the transaction ends; False if
    another worker holds it."""
    if session.get_bind().dialect.name != "postgresql":
        return True  # BEGIN IMMEDIATE: this transaction is the only writer
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"),
                               {"key": chat_key(office_of(session), channel, chat_id)}))


def next_of_chat(session: Session, channel: str, chat_id: str, with_context: bool = True):
    """The chat's lowest unhandled message (call it with the chat claimed): its id, channel,
    chat id and payload. With its context: read in the same statement as what handling
    needs of the chat (storage.chat_context); without: the row alone, and each reader
    queries for itself (the reference the equivalence test compares with)."""
    if with_context:
        return chat_context.next_with_context(session, channel, chat_id)
    return session.scalar(select(InboundMessage).where(
        InboundMessage.channel == channel, InboundMessage.chat_id == chat_id,
        InboundMessage.handled_at.is_(None)).order_by(InboundMessage.id).limit(1))


def is_handled(session: Session, channel: str, provider_message_id: str) -> bool:
    """Whether this delivery has been handled (or set aside) by now."""
    return session.scalar(select(InboundMessage.handled_at.is_not(None)).where(
        InboundMessage.channel == channel, InboundMessage.provider_message_id == provider_message_id)) is True


def mark_handled(session: Session, row, inbound: Inbound | None, now: datetime) -> None:
    """Handled: the payload is reduced to its outline in the same transaction (one UPDATE
    by id; nothing reads the row afterwards in this transaction)."""
    session.execute(_mark_statement(), {"row_id": row.id, "outline": outline(inbound), "now": now})


@cache
def _mark_statement():
    return (update(InboundMessage).where(InboundMessage.id == bindparam("row_id"))
            .values(payload=bindparam("outline"), handled_at=bindparam("now"))
            .execution_options(synchronize_session=False))


def failed(session: Session, row_id: int, max_tries: int, now: datetime) -> InboundMessage | None:
    """Count a failed attempt at a message; the row if that was its last try, now set aside
    (handled, with its outline only: its chat's later messages go on)."""
    session.execute(update(InboundMessage).where(InboundMessage.id == row_id)
                    .values(tries=InboundMessage.tries + 1))
    row = session.get(InboundMessage, row_id, populate_existing=True)
    if row is None or row.handled_at is not None or row.tries < max_tries:
        return None
    inbound = inbound_of(row)
    row.payload = dict(outline(inbound), set_aside=True)
    row.handled_at = row.set_aside_at = now
    return row
