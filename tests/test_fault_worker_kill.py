"""kill -9 the outbound worker (web and worker in separate processes, as in production)
while it is in the middle of a send, start a new worker, and reconcile: every outbox row
ends sent, each chat's messages reach the provider in order, and the only duplicates are
the sends that were in flight when the worker died (at-least-once delivery)."""
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from sqlalchemy import create_engine, text

from storage.redis_store import Busy, chat_lock
from tests.faults import (LoggingBotAPI, free_port, needs_redis_server, post_update,  # noqa: F401
                          reconcile, redis_server, start_update)

SECRET, TOKEN = "worker-kill-secret", "123:TEST"
CHATS = 30          # one /start each: a greeting and a privacy notice, 60 outbox rows
KILL_AT_SEND = 12   # the fake Bot API holds this send unanswered; the worker dies waiting for it
# One worker process has at most two sends in flight: the RQ job it runs and its sweep.
IN_FLIGHT_PER_WORKER = 2


def update(n):
    return start_update(n, 70_000, 5000)


def post(port, body) -> int:
    return post_update(port, body, SECRET)


def spawn(args, env, cwd, name):
    with open(cwd / f"{name}.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "bot", *args], env=env, cwd=cwd,
                                stdout=log, stderr=subprocess.STDOUT)


def wait_until(predicate, seconds, what, explain=lambda: ""):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} {explain()}")


def stuck(engine, server):
    """What is left, and the outbound chat locks still in Redis (with their TTL in ms)."""
    with engine.connect() as c:
        left = c.execute(text("SELECT id, chat_id, status, attempts, error FROM outbox "
                              "WHERE status != 'sent' ORDER BY id")).all()
    client = redis.Redis.from_url(server.url, decode_responses=True)
    locks = {k: client.pttl(k) for k in client.scan_iter("aduan:chat:out-*")}
    return f"left: {left}; outbound chat locks: {locks}"


@needs_redis_server
def test_kill_9_of_the_outbound_worker_mid_send_loses_nothing_and_duplicates_only_in_flight(
        tmp_path, redis_server):
    """`aduan run --no-worker --no-scheduler` takes 30 conversations while `aduan worker`
    drains them through a slow fake Bot API; the worker is killed -9 while a send is
    unanswered; a new worker finishes: all 60 rows sent, each chat in order, and at most
    the sends in flight at the kill repeated."""
    db = f"sqlite:///{tmp_path / 'aduan.db'}"
    port = free_port()
    (tmp_path / "none.toml").write_text("")
    procs = []
    with LoggingBotAPI(TOKEN, delay=0.05, hold_at=KILL_AT_SEND) as api:
        env = dict(os.environ, ADUAN_DATABASE_URL=db, ADUAN_SERVER_PORT=str(port),
                   ADUAN_REDIS_URL=redis_server.url, ADUAN_TELEGRAM_TOKEN=TOKEN,
                   ADUAN_TELEGRAM_SECRET_TOKEN=SECRET, ADUAN_TELEGRAM_API_BASE_URL=api.url,
                   ADUAN_CONFIG=str(tmp_path / "none.toml"))
        subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, cwd=tmp_path, check=True,
                       capture_output=True)
        engine = create_engine(db)

        def scalar(sql):
            with engine.connect() as c:
                return c.scalar(text(sql))

        try:
            # the web process only takes webhooks; `aduan worker` (RQ jobs + a sweep) sends
            procs.append(spawn(["run", "--no-worker", "--no-scheduler"], env, tmp_path, "web"))
            wait_until(lambda: post(port, {}) == 400, 30, "the web process")  # up and answering
            worker = spawn(["worker"], env, tmp_path, "worker-1")
            procs.append(worker)

            with ThreadPoolExecutor(4) as pool:
                futures = [pool.submit(post, port, update(n)) for n in range(CHATS)]
                assert api.holding.wait(30), "the worker never reached the send that is to be held"
                time.sleep(0.05)  # the worker's other thread may get a send of its own under way
                os.kill(worker.pid, signal.SIGKILL)  # mid-send, no goodbye
                worker.wait(10)
                api.release.set()  # the held request is answered to a dead socket
                statuses = [f.result() for f in futures]
            # the web process does not depend on the worker: every webhook stored and acknowledged
            assert statuses == [200] * CHATS
            assert scalar("SELECT count(*) FROM inbound_messages") == CHATS
            pending_after_kill = scalar("SELECT count(*) FROM outbox WHERE status = 'pending'")
            sends_before_kill = len(api.log)
            assert pending_after_kill > 0, "the kill came too late: nothing was left to drain"

            restarted = time.monotonic()
            procs.append(spawn(["worker"], env, tmp_path, "worker-2"))
            # The dead worker's chat locks lapse (bot.outbound.OUT_LOCK_TTL, 10 s), and the new
            # worker's sweep takes those chats over.
            wait_until(lambda: scalar("SELECT count(*) FROM outbox WHERE status != 'sent'") == 0, 40,
                       "the new worker to drain the outbox", explain=lambda: stuck(engine, redis_server))
            drained_in = time.monotonic() - restarted

            with engine.connect() as c:
                rows = c.execute(text("SELECT id, chat_id, provider_message_id FROM outbox")).all()
            assert len(rows) == 2 * CHATS  # a greeting and a privacy notice per chat
            duplicates = reconcile(rows, api.log)  # all rows accepted, in order per chat
            print(f"\nworker kill: acknowledged {statuses.count(200)}/{CHATS} webhooks; {sends_before_kill} "
                  f"sends before the kill, {pending_after_kill} rows pending after it; the provider got "
                  f"{len(api.log)} sends for {len(rows)} rows: {duplicates} duplicate(s); the new worker "
                  f"drained the rest in {drained_in:.1f} s")
            # the held send is always one; never more than one worker process had in flight
            assert 1 <= duplicates <= IN_FLIGHT_PER_WORKER
        finally:
            api.release.set()
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
            for proc in procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            engine.dispose()


def test_a_kept_alive_chat_lock_outlives_its_ttl_while_its_holder_works(redis_client, redis_prefix):
    """The outbound chat lock has a short TTL (so a killed holder frees the chat soon) and is
    renewed while held (so a live holder keeps it however long it drains)."""
    def try_lock():
        with chat_lock(redis_client, "out-telegram", "42", wait=0.01, prefix=redis_prefix):
            pass

    with chat_lock(redis_client, "out-telegram", "42", timeout=0.3, keep_alive=True, prefix=redis_prefix):
        time.sleep(1.0)  # more than three TTLs
        with pytest.raises(Busy):
            try_lock()
    try_lock()  # released on the way out: free at once
