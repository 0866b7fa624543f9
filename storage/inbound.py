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

import queue
import threading
import weakref
from dataclasses import fields
from datetime import datetime
from functools import cache

from sqlalchemy import Engine, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from flows.messages import Attachment, Inbound
from storage import chat_context
from storage.db import chat_key, is_sqlite_file, sqlite_writer
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


def store(engine: Engine, office_id: int, channel: str, provider_message_id: str, inbound: Inbound | None,
          now: datetime) -> bool:
    """Store a delivery to be handled; False if it was stored before (a retry or a
    duplicate). One statement, INSERT ... ON CONFLICT DO NOTHING, in autocommit: the
    statement is the whole transaction, committed when it returns (on SQLite it takes the
    write lock itself). A delivery with nothing to do (None) is stored as handled already.

    The webhook's hot path, so it runs on the driver's own connection (a pooled one of
    `engine`), with the SQL and the column conversions SQLAlchemy would use, prepared
    once (`_Acknowledgement`): through the engine's execute, the same statement cost
    three times as much again in building, events and result handling as in the
    database. A pooled connection found dead (the database restarted, a backend was
    terminated) is replaced and the statement tried once more: safe either way, since had
    it reached the database the second finds the row and changes nothing."""
    ack = _acknowledgement(engine)
    values = (office_id, channel, provider_message_id, inbound.chat_id if inbound else None,
              pending_payload(inbound) if inbound else outline(None), now, None if inbound else now, 0)
    if ack.group is not None:
        return ack.group.store(values)
    for attempt in (1, 2):
        conn = engine.raw_connection()
        try:
            stored = ack.execute(conn, values)
            if not ack.autocommit:
                conn.commit()
            return stored is not None
        except engine.dialect.loaded_dbapi.Error as exc:
            dead = engine.dialect.is_disconnect(exc, conn.driver_connection, None)
            if dead:
                conn.invalidate()
                if attempt == 1:
                    continue
            # as SQLAlchemy raises it (OperationalError, IntegrityError, ...), without the values
            raise DBAPIError.instance(ack.sql, None, exc, engine.dialect.loaded_dbapi.Error, hide_parameters=True,
                                      dialect=engine.dialect, connection_invalidated=dead) from exc
        finally:
            conn.close()  # back to the pool (an invalidated one is discarded)
    raise AssertionError("unreachable")


class _Acknowledgement:
    """The acknowledgement's INSERT compiled for one dialect, with each column's bind
    conversion (the JSON payload, UTC datetimes) as the ORM applies it."""

    COLUMNS = ("office_id", "channel", "provider_message_id", "chat_id", "payload", "received_at", "handled_at",
               "tries")

    def __init__(self, engine: Engine):
        dialect = engine.dialect
        table = InboundMessage.__table__
        module = postgresql if dialect.name == "postgresql" else sqlite
        statement = (module.insert(table).values({c: bindparam(c) for c in self.COLUMNS})
                     .on_conflict_do_nothing(index_elements=["office_id", "channel", "provider_message_id"])
                     .returning(table.c.id))
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positional
        self.order = list(compiled.positiontup) if compiled.positional else list(self.COLUMNS)
        processors = {c: table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in self.COLUMNS}
        self.processors = [processors[name] for name in self.order]
        self.index = [self.COLUMNS.index(name) for name in self.order]
        # PostgreSQL: the engine is in autocommit; SQLite: storage.db's connections run
        # without the driver's implicit transactions, so one statement commits itself
        self.autocommit = dialect.name == "sqlite" or engine.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        self.group = _GroupCommit(engine, self) if is_sqlite_file(engine) else None

    def parameters(self, values: tuple):
        converted = [values[i] if p is None else p(values[i]) for i, p in zip(self.index, self.processors)]
        return converted if self.positional else dict(zip(self.order, converted))

    def execute(self, conn, values: tuple):
        """The statement on a pooled driver connection: the new row's id, or None."""
        cursor = conn.cursor()
        try:
            cursor.execute(self.sql, self.parameters(values))
            return cursor.fetchone()
        finally:
            cursor.close()


class _Waiting:
    __slots__ = ("values", "done", "stored", "error")

    def __init__(self, values: tuple):
        self.values, self.done, self.stored, self.error = values, threading.Event(), False, None


class _GroupCommit:
    """SQLite's acknowledgements, committed in groups. Each webhook thread hands its row
    to one writer thread and waits; the writer takes every row waiting, inserts them all
    in one transaction and commits, then answers each thread (stored, or a repeat), so a
    webhook still answers only once its row is committed. One commit for many rows, and
    one thread at the database's single write lock instead of every webhook thread
    queueing for it (and for the interpreter after each of its calls into SQLite): under
    load, that queueing had been most of an acknowledgement. A group that fails is
    written again row by row, so only the row at fault fails."""

    MAX_GROUP = 256
    WAIT = 30.0  # seconds a webhook waits for its commit before it answers 5xx
    IDLE = 2.0  # seconds without an acknowledgement before the writer thread ends

    def __init__(self, engine: Engine, ack: "_Acknowledgement"):
        # weakly: this is the value of _ACKS, keyed weakly by the engine, and would keep
        # every engine (and its pool) alive for the life of the process
        self._engine, self.ack = weakref.ref(engine), ack
        self.queue: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def store(self, values: tuple) -> bool:
        waiting = _Waiting(values)
        self.queue.put(waiting)
        self._running()  # after the put: a writer about to stop sees the row, or this starts one
        if not waiting.done.wait(self.WAIT):
            raise DBAPIError.instance(self.ack.sql, None, TimeoutError("the acknowledgement was not committed in time"),
                                      Exception, hide_parameters=True)
        if waiting.error is not None:
            raise waiting.error
        return waiting.stored

    def _running(self) -> None:
        # under the lock the writer checks before it stops, so never both miss a row; one
        # writer per process (a forked one starts its own)
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="acknowledgements", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                group = [self.queue.get(timeout=self.IDLE)]
            except queue.Empty:
                with self._start:
                    if self.queue.empty():  # idle: the next acknowledgement starts a writer again
                        self._thread = None
                        return
                continue
            while len(group) < self.MAX_GROUP:
                try:
                    group.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(group)
            finally:
                for waiting in group:
                    waiting.done.set()

    @property
    def engine(self) -> Engine:
        engine = self._engine()
        if engine is None:  # only once every store() of that engine has returned
            raise RuntimeError("the engine of these acknowledgements is gone")
        return engine

    def _write(self, group: list[_Waiting]) -> None:
        try:
            with sqlite_writer(self.engine):
                conn = self.engine.raw_connection()
                try:
                    cursor = conn.cursor()
                    cursor.execute("BEGIN IMMEDIATE")
                    try:
                        for waiting in group:
                            waiting.stored = self.ack.execute(conn, waiting.values) is not None
                        cursor.execute("COMMIT")
                    except BaseException:
                        try:
                            cursor.execute("ROLLBACK")
                        except Exception:  # a broken connection: the first error is the one to tell
                            conn.invalidate()
                        raise
                finally:
                    conn.close()
        except Exception as exc:
            if len(group) > 1:
                for waiting in group:
                    self._write([waiting])
                return
            dbapi = self.engine.dialect.loaded_dbapi.Error
            group[0].error = (DBAPIError.instance(self.ack.sql, None, exc, dbapi, hide_parameters=True,
                                                  dialect=self.engine.dialect) if isinstance(exc, dbapi) else exc)


_ACKS: "weakref.WeakKeyDictionary[Engine, _Acknowledgement]" = weakref.WeakKeyDictionary()


def _acknowledgement(engine: Engine) -> _Acknowledgement:
    ack = _ACKS.get(engine)
    if ack is None:
        ack = _ACKS[engine] = _Acknowledgement(engine)
    return ack


def pending_chats(session: Session, limit: int = 50) -> list[tuple[int, str, str]]:
    """(office, channel, chat) of the chats with unhandled messages, fairly across offices:
    each office's chats ranked by how long they have waited, then by that rank, so a round
    takes each office's oldest chat before any office's second. Read across offices: the
    caller then works in each office's own session.

    Read from the head of each office's queue (its oldest HEAD x limit messages, through an
    index), not from the whole backlog: a plan costs the same with a backlog of a hundred
    or of a hundred thousand. An office whose head holds fewer chats than the plan takes
    (a few chats with long backlogs at its front) is read whole, so that no chat waits
    behind another chat's backlog."""
    lanes = []
    for office in _offices_with_work(session):
        rows = session.execute(_head_statement(), {"office": office, "n": HEAD * limit}).all()
        firsts: dict[tuple[str, str], int] = {}
        for channel, chat, row_id in rows:  # in id order: a chat's first row is its oldest
            firsts.setdefault((channel, chat), row_id)
        if len(rows) == HEAD * limit and len(firsts) < limit:
            firsts = {(channel, chat): first for channel, chat, first in
                      session.execute(_office_chats_statement(), {"office": office, "n": limit})}
        lanes.append([(first, office, channel, chat) for (channel, chat), first in list(firsts.items())[:limit]])
    plan = sorted((rank, first, office, channel, chat) for lane in lanes for rank, (first, office, channel, chat)
                  in enumerate(lane))
    return [(office, channel, chat) for _, _, office, channel, chat in plan[:limit]]


HEAD = 4  # messages read from the head of an office's queue, per chat a plan takes


def _offices_with_work(session: Session) -> list[int]:
    """The offices with unhandled messages: a walk through the partial index's distinct
    offices (a recursive query, one index probe an office), not a scan of the backlog."""
    return [office for (office,) in session.execute(_offices_statement()) if office is not None]


@cache
def _offices_statement():
    return text("""
        WITH RECURSIVE o(office_id) AS (
            SELECT (SELECT min(office_id) FROM inbound_messages WHERE handled_at IS NULL)
            UNION ALL
            SELECT (SELECT min(m.office_id) FROM inbound_messages m
                    WHERE m.handled_at IS NULL AND m.office_id > o.office_id)
            FROM o WHERE o.office_id IS NOT NULL)
        SELECT office_id FROM o""")


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


def newest_id(session: Session) -> int:
    """The highest inbound id so far (0 if none): where `arrivals_since` starts."""
    return session.scalar(select(func.coalesce(func.max(InboundMessage.id), 0)))


def arrivals_since(session: Session, after_id: int, limit: int = 100) -> list[tuple[int, int, str, str]]:
    """(id, office, channel, chat) of the unhandled messages stored after `after_id`, in id
    order: what came in during a round (a range of the primary key, a few rows)."""
    return [tuple(row) for row in session.execute(_arrivals_statement(), {"after": after_id, "limit": limit})]


@cache
def _arrivals_statement():
    return (select(InboundMessage.id, InboundMessage.office_id, InboundMessage.channel, InboundMessage.chat_id)
            .where(InboundMessage.id > bindparam("after"), InboundMessage.handled_at.is_(None))
            .order_by(InboundMessage.id).limit(bindparam("limit")))


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
