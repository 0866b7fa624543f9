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

The webhook's side, storing a delivery before its 2xx, is storage.acknowledgements.

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

from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import Iterator

from sqlalchemy import Connection, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from flows.messages import Attachment, Inbound
from storage import chat_context, outbox
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
    """What handling needs of the message, kept until it is handled (dataclasses.asdict's
    result, built directly: asdict's deep copy was a tenth of an acknowledgement)."""
    data = {f: getattr(inbound, f) for f in _INBOUND_FIELDS}
    data["attachments"] = [{f: getattr(a, f) for f in _ATTACHMENT_FIELDS} for a in inbound.attachments]
    return {"pending": data}


_INBOUND_FIELDS = tuple(f.name for f in fields(Inbound))
_ATTACHMENT_FIELDS = tuple(f.name for f in fields(Attachment))


def inbound_of(row: InboundMessage) -> Inbound | None:
    data = (row.payload or {}).get("pending")
    if data is None:
        return None
    data = dict(data, attachments=tuple(Attachment(**a) for a in data.get("attachments") or ()))
    return Inbound(**data)


def pending_chats(session: Session, limit: int = 50, bursts: dict | None = None) -> list[tuple[int, str, str]]:
    """(office, channel, chat) of the chats with unhandled messages, fairly across offices:
    each office's chats ranked by how long they have waited, then by that rank, so a round
    takes each office's oldest chat before any office's second (plan_round's plan)."""
    return plan_round(session.connection(), limit, bursts)[1]


def plan_round(conn: Connection, limit: int = 50, bursts: dict | None = None) -> tuple[int, list[tuple[int, str, str]]]:
    """(the newest inbound id, the plan): the chats with unhandled messages, fairly across
    offices, as pending_chats says, and where `arrivals_since` starts for this plan (0 when
    the plan is empty). Read across offices: the caller then works in each office's own
    session.

    Read from the head of each office's queue (its oldest HEAD x limit messages, through an
    index), not from the whole backlog: a plan costs the same with a backlog of a hundred
    or of a hundred thousand. On PostgreSQL every office's head and the newest id come in
    one statement, a round trip whatever the number of offices with work (one an office
    was 11 round trips a round with ten offices at work, each waiting for a core when a
    flood keeps both busy: heads_at_once); SQLite, in the process, reads each office's head
    apart (heads_office_by_office). An office whose head holds fewer chats than the plan
    takes (a few chats with long backlogs at its front) is read whole, so that no chat
    waits behind another chat's backlog. `bursts`, if given, gets the offices with BURST
    messages waiting or more (those in a burst), each with the id at its head."""
    n = HEAD * limit
    newest, heads = (heads_at_once if conn.dialect.name == "postgresql" else heads_office_by_office)(conn, n)
    lanes = []
    for office, rows in heads.items():
        firsts: dict[tuple[str, str], int] = {}
        for channel, chat, row_id in rows:  # in id order: a chat's first row is its oldest
            firsts.setdefault((channel, chat), row_id)
        if len(rows) >= BURST and bursts is not None:
            bursts[office] = rows[0][2]
        if len(rows) == n and len(firsts) < limit:
            firsts = {(channel, chat): first for channel, chat, first in
                      conn.execute(_office_chats_statement(), {"office": office, "n": limit})}
        lanes.append([(first, office, channel, chat) for (channel, chat), first in list(firsts.items())[:limit]])
    plan = sorted((rank, first, office, channel, chat) for lane in lanes for rank, (first, office, channel, chat)
                  in enumerate(lane))
    return newest, [(office, channel, chat) for _, _, office, channel, chat in plan[:limit]]


def heads_at_once(conn: Connection, n: int) -> tuple[int, dict[int, list]]:
    """(the newest id, {office: its oldest `n` unhandled (channel, chat, id), in id order})
    of every office with work, in one statement (PostgreSQL); (0, {}) when none has."""
    newest, heads = 0, {}
    for office, channel, chat, row_id, newest in conn.execute(_heads_statement(), {"n": n}):
        heads.setdefault(office, []).append((channel, chat, row_id))
    return (newest if heads else 0), heads


def heads_office_by_office(conn: Connection, n: int) -> tuple[int, dict[int, list]]:
    """heads_at_once, a statement an office (SQLite: no lateral joins, and no round trips
    to save in the process)."""
    newest = conn.scalar(_newest_statement())
    heads = {office: [tuple(row) for row in conn.execute(_head_statement(), {"office": office, "n": n})]
             for office in _offices_with_work(conn)}
    return (newest if heads else 0), heads


HEAD = 4  # messages read from the head of an office's queue, per chat a plan takes
# Messages waiting that make an office's queue a burst: a full batch of one worker
# (bot.inbound's default, 8), work enough to keep a worker busy. (At 80, a flood the two
# workers nearly kept up with was never one, and both stayed in its batches: the quiet
# offices' reply p99 during it 6.1 - 6.5 times their p99 alone, 3.3 - 3.8 at 8:
# bench/offices.py.)
BURST = 8


def _offices_with_work(conn: Connection) -> list[int]:
    """The offices with unhandled messages: a walk through the partial index's distinct
    offices (a recursive query, one index probe an office), not a scan of the backlog."""
    return [office for (office,) in conn.execute(_offices_statement()) if office is not None]


# The walk through the offices with work (_offices_with_work)
_OFFICES = """
    WITH RECURSIVE o(office_id) AS (
        SELECT (SELECT min(office_id) FROM inbound_messages WHERE handled_at IS NULL)
        UNION ALL
        SELECT (SELECT min(m.office_id) FROM inbound_messages m
                WHERE m.handled_at IS NULL AND m.office_id > o.office_id)
        FROM o WHERE o.office_id IS NOT NULL)"""


@cache
def _offices_statement():
    return text(_OFFICES + " SELECT office_id FROM o")


@cache
def _heads_statement():
    """Each office's head (_head_statement) beside the newest id, for every office with work
    at once (PostgreSQL: a lateral join on the walk through the offices)."""
    return text(_OFFICES + """
        SELECT o.office_id, h.channel, h.chat_id, h.id,
               (SELECT coalesce(max(id), 0) FROM inbound_messages) AS newest
        FROM o CROSS JOIN LATERAL (
            SELECT m.channel, m.chat_id, m.id FROM inbound_messages m
            WHERE m.office_id = o.office_id AND m.handled_at IS NULL ORDER BY m.id LIMIT :n) h
        ORDER BY o.office_id, h.id""")


@cache
def _head_statement():
    return (select(InboundMessage.channel, InboundMessage.chat_id, InboundMessage.id)
            .where(InboundMessage.office_id == bindparam("office"), InboundMessage.handled_at.is_(None))
            .order_by(InboundMessage.id).limit(bindparam("n")))


@cache
def _office_chats_statement():
    first = func.min(InboundMessage.id)
    return (select(InboundMessage.channel, InboundMessage.chat_id, first)
            .where(InboundMessage.office_id == bindparam("office"), InboundMessage.handled_at.is_(None))
            .group_by(InboundMessage.channel, InboundMessage.chat_id).order_by(first).limit(bindparam("n")))


@cache
def _newest_statement():
    return select(func.coalesce(func.max(InboundMessage.__table__.c.id), 0))


def arrivals_since(reader: Session | Connection, after_id: int, limit: int = 100) -> list[tuple[int, int, str, str]]:
    """(id, office, channel, chat) of the unhandled messages stored after `after_id`, in id
    order, of every office (even through an office's session: a worker in one office's
    batch asks what came in for the others): a range of the primary key, a few rows."""
    conn = reader.connection() if isinstance(reader, Session) else reader
    return [tuple(row) for row in conn.execute(_arrivals_statement(), {"after": after_id, "limit": limit})]


@cache
def _arrivals_statement():
    c = InboundMessage.__table__.c  # Core: not scoped to the session's office
    return (select(c.id, c.office_id, c.channel, c.chat_id)
            .where(c.id > bindparam("after"), c.handled_at.is_(None)).order_by(c.id).limit(bindparam("limit")))


def claim_chat(session: Session, channel: str, chat_id: str) -> bool:
    """Hold this chat (of the session's office) until the transaction ends; False if
    another worker holds it."""
    if session.get_bind().dialect.name != "postgresql":
        return True  # BEGIN IMMEDIATE: this transaction is the only writer
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"),
                               {"key": chat_key(office_of(session), channel, chat_id)}))


def claim_chats(session: Session, chats: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """claim_chat for several chats in one statement: those this worker now holds."""
    if session.get_bind().dialect.name != "postgresql" or not chats:
        return list(chats)
    office = office_of(session)
    keys = {chat_key(office, channel, chat_id): (channel, chat_id) for channel, chat_id in chats}
    held = set(session.scalars(_claim_statement(), {"keys": list(keys)}))
    return [chat for key, chat in keys.items() if key in held]


def hold_any(session: Session, chats: list[tuple[int, str, str]]) -> bool:
    """Whether this transaction could hold (claim_chat's lock) any of these (office,
    channel, chat): on SQLite this transaction is the one writer anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalars(_claim_statement(), {"keys": [chat_key(*chat) for chat in chats]}).first())


@cache
def _claim_statement():
    return text("SELECT k FROM unnest(CAST(:keys AS bigint[])) AS k WHERE pg_try_advisory_xact_lock(k)")


def next_of_chats(session: Session, chats: list[tuple[str, str]]) -> list:
    """next_of_chat (with context) for several claimed chats in one statement, in the
    order of `chats` (those with nothing left are left out)."""
    found = chat_context.next_of_chats(session, office_of(session), chats)
    return [found[chat] for chat in chats if chat in found]


def message_done(session: Session) -> None:
    """Between two messages of a batch (storage.chat_context.message_done)."""
    chat_context.message_done(session)


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
    by id; nothing reads the row afterwards in this transaction). Inside batched,
    kept and written with the others at the block's end."""
    mark = {"row_id": row.id, "outline": outline(inbound), "now": now}
    if (marks := session.info.get(_MARKS)) is not None:
        marks.append(mark)
    else:
        session.connection().execute(_mark_statement(), mark)


_MARKS = "inbound_marks"


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """A worker's batch of chats: within the block, the "handled" marks go in one
    statement at its end (nothing reads them back before), and the replies of all its
    messages in one (storage.outbox.batched)."""
    marks = session.info[_MARKS] = []
    try:
        with outbox.batched(session):
            yield
        if marks:
            session.connection().execute(_mark_statement(), marks)
    finally:
        del session.info[_MARKS]


@cache
def _mark_statement():
    # Core: the id is the row's, whatever the office
    table = InboundMessage.__table__
    return (table.update().where(table.c.id == bindparam("row_id"))
            .values(payload=bindparam("outline"), handled_at=bindparam("now")))


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
