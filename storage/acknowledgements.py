"""The webhook's acknowledgement: a delivery stored, once, before the 2xx that says so, in
one statement on the driver's own connection (the webhooks' hot path). The queue it
stores into, and how the workers take from it, is storage.inbound.
"""
from __future__ import annotations

import logging
import queue
import threading
import weakref
from datetime import datetime

from sqlalchemy import Engine, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from flows.messages import Inbound
from storage.db import is_sqlite_file, sqlite_writer
from storage.inbound import outline, pending_payload
from storage.models import InboundMessage

log = logging.getLogger(__name__)


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
        self._many: dict[int, str] = {}

    def parameters(self, values: tuple):
        converted = [values[i] if p is None else p(values[i]) for i, p in zip(self.index, self.processors)]
        return converted if self.positional else dict(zip(self.order, converted))

    def many(self, rows: int) -> str:
        """The INSERT of `rows` rows in one statement, without RETURNING (SQLite's writer)."""
        sql = self._many.get(rows)
        if sql is None:
            head, tail = self.sql.split(" VALUES ", 1)
            one, rest = tail.split(") ", 1)
            sql = self._many[rows] = (f"{head} VALUES {', '.join([one + ')'] * rows)} "
                                      f"{rest.removesuffix(' RETURNING id')}")
        return sql

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
    in one statement (which commits itself), then answers each thread (stored, or a
    repeat), so a webhook still answers only once its row is committed. One commit for
    many rows, and one thread at the database's single write lock instead of every webhook
    thread queueing for it (and for the interpreter after each of its calls into SQLite):
    under load, that queueing had been most of an acknowledgement. A group that fails is
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
        # A group is one INSERT of all its rows, in autocommit (the statement is its
        # transaction), its parameters converted before the turn to write is taken: the
        # writer holds the database's one write lock (and, for other processes, storage.db's
        # kernel lock) for one call into SQLite. Each call gives up the interpreter, and
        # taking it back can wait for the webhook threads: a statement per row had held
        # the write lock through as many of those waits.
        try:
            params = [self.ack.parameters(waiting.values) for waiting in group] if len(group) > 1 else None
            with sqlite_writer(self.engine):
                conn = self.engine.raw_connection()
                try:
                    if params is None:
                        group[0].stored = self.ack.execute(conn, group[0].values) is not None
                    else:
                        cursor = conn.cursor()
                        try:
                            self._insert_many(cursor, group, params)
                        finally:
                            cursor.close()
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

    def _insert_many(self, cursor, group: list[_Waiting], params: list) -> None:
        """The group's rows in one statement; each waiting row told whether it was new: a
        row is not if a row of its key was stored before or comes earlier in the group."""
        first: dict[tuple, int] = {}  # (office, channel, provider id) -> its first row in the group
        for n, waiting in enumerate(group):
            first.setdefault(waiting.values[:3], n)
        rows = sorted(first.values())
        cursor.execute(self.ack.many(len(rows)), [value for n in rows for value in params[n]])
        # committed from here: a failure below must not send the group to be written again
        # (every row would then be found, and answered as a repeat)
        inserted, last = cursor.rowcount, cursor.lastrowid
        if inserted == len(rows):
            new = set(rows)
        elif inserted <= 0:
            new = set()
        else:  # some were stored before: the ids this statement gave are consecutive, ending at lastrowid
            try:
                cursor.execute("SELECT office_id, channel, provider_message_id FROM inbound_messages "
                               "WHERE id BETWEEN ? AND ?", (last - inserted + 1, last))
                new = {first[tuple(key)] for key in cursor.fetchall()}
            except Exception:  # stored all the same; a repeat answered as new costs a look, not a message
                log.warning("inbound: which rows of a group were new is unknown; all are answered as new",
                            exc_info=True)
                new = set(rows)
        for n, waiting in enumerate(group):
            waiting.stored = n in new


_ACKS: "weakref.WeakKeyDictionary[Engine, _Acknowledgement]" = weakref.WeakKeyDictionary()


def _acknowledgement(engine: Engine) -> _Acknowledgement:
    ack = _ACKS.get(engine)
    if ack is None:
        ack = _ACKS[engine] = _Acknowledgement(engine)
    return ack
