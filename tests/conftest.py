"""Fixtures. Storage and Redis tests run on SQLite and in-process Redis always, and also
on PostgreSQL and a real Redis when ADUAN_TEST_DATABASE_URL / ADUAN_TEST_REDIS_URL are
set. A configured service that does not answer stops the run: a failure, never a skip.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from contextlib import AbstractContextManager
from typing import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.models import Base

PG_URL = os.environ.get("ADUAN_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("ADUAN_TEST_REDIS_URL")


def _per_worker(url: str | None) -> str | None:
    """Under pytest-xdist each worker gets a Redis database of its own (db 15 -> 15, 14, ...),
    as it gets a PostgreSQL schema of its own: tests that share an RQ queue or a leader
    lock never meet another worker's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url
    base, _, db = url.rpartition("/")
    return f"{base}/{(int(db or 0) - int(worker[2:])) % 16}"


REDIS_URL = _per_worker(REDIS_URL)
DB_BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
REDIS_BACKENDS = ["memory"] + (["redis"] if REDIS_URL else [])


def pytest_configure(config):
    if PG_URL:
        try:
            engine = make_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
        except Exception as exc:
            raise pytest.UsageError(
                f"ADUAN_TEST_DATABASE_URL is set but the database does not answer: {exc}")
    if REDIS_URL:
        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        except Exception as exc:
            raise pytest.UsageError(f"ADUAN_TEST_REDIS_URL is set but Redis does not answer: {exc}")


def pytest_report_header(config):
    return (f"aduan storage backends: {', '.join(DB_BACKENDS)}; "
            f"redis backends: {', '.join(REDIS_BACKENDS)}")


def local(tz: str):
    """Make datetimes in an office zone: wib(2025, 3, 27, 15, 45)."""
    zone = ZoneInfo(tz)
    return lambda *args: datetime(*args, tzinfo=zone)


wib, wita, wit = local("Asia/Jakarta"), local("Asia/Makassar"), local("Asia/Jayapura")


def overlaps_under(lock: Callable[[], AbstractContextManager], holders: int = 5) -> list[int]:
    """Threads that each hold `lock()` for a moment: those that found another inside."""
    inside, overlaps = [], []

    def hold(n):
        with lock():
            if inside:
                overlaps.append(n)
            inside.append(n)
            time.sleep(0.02)
            inside.remove(n)

    threads = [threading.Thread(target=hold, args=(n,)) for n in range(holders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return overlaps


@pytest.fixture(scope="session")
def _pg_url():
    """A schema of its own on the test PostgreSQL, dropped afterwards."""
    schema = f"aduan_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    # Commits need not wait for the disk here: what a test checks is what other sessions
    # see, and a committed row is visible at once either way (only a crash of the server
    # could lose it); the suite's thousands of commits each skip a WAL flush.
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema} -csynchronous_commit=off"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session", params=DB_BACKENDS)
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'aduan.db'}"
    return request.getfixturevalue("_pg_url")


@pytest.fixture(scope="session")
def _migrated(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(_migrated):
    """A migrated database, emptied after each test."""
    yield _migrated
    empty_database(_migrated)


def empty_database(engine) -> None:
    """Every table emptied, ids from 1 again, but for the first office, which always exists."""
    owned = [t for t in reversed(Base.metadata.sorted_tables) if t.name != "offices"]
    tables = [t.name for t in owned]
    with engine.begin() as conn:
        # DELETE, children first, then the ids from 1 again: on the few rows a test leaves
        # this is a fraction of TRUNCATE's cost (which makes each table's files anew)
        for t in tables:
            conn.execute(text(f"DELETE FROM {t}"))
        if engine.dialect.name == "postgresql":
            serial = [t.name for t in owned if "id" in t.c and t.c.id.primary_key]
            conn.execute(text("SELECT setval(pg_get_serial_sequence(t, 'id'), 1, false) FROM unnest(CAST(:tables AS text[])) AS t"),
                         {"tables": serial})
        conn.execute(text("DELETE FROM offices WHERE parent_id IS NOT NULL"))
        conn.execute(text("DELETE FROM offices WHERE id <> 1"))
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('offices', 'id'), 1)"))


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


@pytest.fixture(params=REDIS_BACKENDS)
def redis_client(request):
    """In-process fakeredis, and the real server when configured; keys cleaned after."""
    if request.param == "memory":
        import fakeredis

        yield fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
        return
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    for key in client.scan_iter("aduan-test*"):
        client.delete(key)


@pytest.fixture
def redis_prefix():
    return f"aduan-test-{uuid.uuid4().hex[:8]}"


def handled_at_once(runtime) -> None:
    """The one place where every harness (tests/chat.py, tests/wire.py, the page tests)
    hands a message in: after a webhook stores it, run the inbound loop until it is idle,
    in this thread, as the workers do within a second. So a test sees the replies as soon
    as its post is answered, and what it checks keeps its meaning. `make_runtime(...,
    handle=False)` leaves the messages stored and unhandled, as a dead worker would."""
    # Every office's webhook wakes the deployment's loop after it stored a new message.
    runtime.wake_inbound = lambda office_id=0: runtime.inbound.drain()


@pytest.fixture
def make_runtime(database_url, engine, tmp_path, monkeypatch):
    """Runtimes on the test database, each with a fresh in-process Redis."""
    from bot.config import Settings
    from bot.runtime import Runtime
    import storage.redis_store

    monkeypatch.chdir(tmp_path)  # var/secret.key lands here
    made = []

    def make(clock=None, handle=True, **sections):
        monkeypatch.setattr(storage.redis_store, "_memory_server", None)
        # Tests post at machine speed; the tests of the limits set their own.
        sections["webchat"] = {"messages_per_second": 1000, "message_burst": 1000, **sections.get("webchat", {})}
        settings = Settings.model_validate({"database": {"url": database_url}, **sections})
        runtime = Runtime(settings, clock=clock) if clock else Runtime(settings)
        made.append(runtime)
        if handle:
            handled_at_once(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


@pytest.fixture
def make_runtime_cached(make_runtime):
    """One runtime for all examples of a hypothesis test (function-scoped fixtures are not
    re-made per example)."""
    from bot.app import create_app

    runtime = make_runtime(telegram={"secret_token": "fuzz-secret"},
                           whatsapp={"auth_token": "fuzz-auth", "public_url": "https://aduan.example/webhooks/whatsapp"})
    return runtime, create_app(runtime=runtime).test_client()
