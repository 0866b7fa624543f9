"""Engines and sessions, with the same behaviour on SQLite (WAL) and PostgreSQL."""
from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import StorageError
from storage.scoping import office_of

WRITE_OPTION = "aduan_unit_of_work"


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for `url`; a SQLite file gets its folder, WAL, foreign keys and a busy wait.
    Statement parameters never reach logs or error messages: they hold personal data."""
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the database folder {folder}: {exc.strerror}") from None
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN and skips it for SELECT. Take
        # control: a unit of work (`transaction()`) begins IMMEDIATE, so writers queue on
        # the busy timeout instead of failing with SQLITE_BUSY_SNAPSHOT when a read turns
        # into a write; plain reading sessions begin DEFERRED and never block writers (WAL).
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_recycle", RECYCLE_SECONDS)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


# A connection is tried before use only when it has lain in the pool a while: a busy
# process checks connections out thousands of times a second, and a ping each time (the
# pool's pre-ping) is a round trip to the server for every unit of work. One that has been
# idle may have been cut (a restarted or failed-over server, a proxy's idle timeout): it
# is tried, and a dead one replaced before anyone uses it. A connection that dies while in
# use fails its statement; SQLAlchemy then invalidates the whole pool (every connection
# older than the failure is replaced at its next checkout), and the callers cope: a
# webhook answers 5xx (not stored, so the provider retries), the inbound loop counts no
# try and looks again (bot.inbound).
IDLE_PING_SECONDS = 2.0
RECYCLE_SECONDS = 3600  # no connection lives longer than an hour (server-side timeouts, memory)


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _try_if_idle(dbapi_conn, record, proxy):
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception:
            alive = False
        if not alive:
            raise DisconnectionError("an idle connection is dead")  # the pool connects anew


def _sqlite_begin(conn) -> None:
    immediate = conn.get_execution_options().get(WRITE_OPTION)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_pragmas(dbapi_conn, _record):
    dbapi_conn.isolation_level = None  # see the "begin" listener above
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    with sqlite_writer(factory.kw.get("bind")):
        with factory() as session:
            with session.begin():
                session.connection(execution_options={WRITE_OPTION: True})
                yield session


# SQLite has one writer at a time. Writers queue for it here, on a lock handed over the
# moment a transaction ends, instead of in SQLite's busy handler, which sleeps 1, 2, 5,
# 10 ... ms between tries: under load the sleeps, not the writes, were most of a webhook's
# time, and a process that writes back to back (the loops of `aduan run`) kept the lock
# from one that only tried between sleeps. The threads of a process queue on an RLock;
# the thread that holds it holds, for its process, a kernel lock on a file beside the
# database (fcntl, `<database>-writer`), which other processes wait on and which the
# kernel gives up when its holder exits, however it ends. Only an optimization: a thread
# that waited WRITER_WAIT seconds for its process's turn goes on to SQLite's own wait,
# which then decides. The kernel lock is waited for without a limit: its holder is one
# transaction of this deployment's (a webhook's group, a batch, a command), which the
# wait outlasts only if that process stops mid-transaction without exiting.
_WRITERS: dict[str, "_Writer"] = {}  # by database file: every engine of the file in this process
_WRITER_OF: "weakref.WeakKeyDictionary[Engine, _Writer | None]" = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()
WRITER_WAIT = 30.0


class _Writer:
    """One database file's turn to write: among this process's threads, and among processes."""

    def __init__(self, database: str):
        self.path = database + "-writer"
        self.threads = threading.RLock()
        self.depth = 0  # how many times the holding thread holds it (changed only by that thread)
        self.fd, self.pid = -1, 0  # the lock file, opened by each process for itself (lockf is per process)

    def acquire(self, timeout: float) -> bool:
        if not self.threads.acquire(timeout=timeout):
            return False
        if self.depth == 0:
            try:
                if self.pid != os.getpid():  # a forked process holds none of its parent's locks
                    if self.fd >= 0:
                        os.close(self.fd)  # the parent's, inherited (closing it frees no lock here: none is held)
                    self.fd, self.pid = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600), os.getpid()
                fcntl.lockf(self.fd, fcntl.LOCK_EX)
            except BaseException:
                self.threads.release()
                raise
        self.depth += 1
        return True

    def release(self) -> None:
        self.depth -= 1
        try:
            if self.depth == 0:
                fcntl.lockf(self.fd, fcntl.LOCK_UN)
        finally:
            self.threads.release()


def is_sqlite_file(engine: Engine) -> bool:
    """A SQLite database in a file (not in memory): one writer, shared by every engine of it."""
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


def _writer_of(engine: Engine) -> _Writer | None:
    try:
        return _WRITER_OF[engine]
    except KeyError:
        pass
    writer = None
    if is_sqlite_file(engine):
        with _WRITERS_LOCK:
            path = str(Path(engine.url.database).resolve())
            writer = _WRITERS.setdefault(path, _Writer(path))
    _WRITER_OF[engine] = writer
    return writer


@contextmanager
def sqlite_writer(engine: Engine | None) -> Iterator[None]:
    """Hold the turn to write to `engine`'s SQLite file (nothing for other databases)."""
    writer = None if engine is None else _writer_of(engine)
    held = writer is not None and writer.acquire(timeout=WRITER_WAIT)
    try:
        yield
    finally:
        if held:
            writer.release()


def lock_conversation(session: Session, channel: str, chat_id: str) -> None:
    """Serialize one conversation's messages: held until this transaction ends (commit,
    rollback or a dead connection), so nothing outside the database can keep it. On
    PostgreSQL a transaction-scoped advisory lock on a hash of the chat (a collision only
    makes two chats wait for each other); on SQLite the unit of work already holds the
    database's one write lock (BEGIN IMMEDIATE), which serializes every conversation."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": chat_key(office_of(session), channel, chat_id)})


def chat_key(office_id: int, channel: str, chat_id: str) -> int:
    """The advisory lock key of one office's chat (the same chat id on two offices' bots is
    two conversations)."""
    digest = hashlib.blake2b(f"{office_id}:{channel}:{chat_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def upsert_insert(session: Session, model):
    """An INSERT for `model` that knows ON CONFLICT (PostgreSQL's or SQLite's, as the
    session's database is), for writes the unique keys make once-only."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)
