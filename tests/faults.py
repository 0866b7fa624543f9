"""Helpers for the fault tests: a private redis-server that a test may kill and start
again, a fake Bot API that logs every message it receives (and can answer slowly or hold
one request), and the reconciliation of what the provider got against the outbox."""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from tests.fakes.telegram_api import FakeBotAPI

BINARY = shutil.which("redis-server")
needs_redis_server = pytest.mark.skipif(
    BINARY is None, reason="redis-server is not installed (apt-get install redis-server)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """The process ids of `pid`'s children (Linux): `aduan run`'s gunicorn worker."""
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def start_update(n: int, first_id: int, first_chat: int) -> dict:
    """A Telegram update: /start from chat first_chat + n, update id first_id + n."""
    return {"update_id": first_id + n, "message": {
        "message_id": n, "date": 1, "text": "/start", "chat": {"id": first_chat + n, "type": "private"},
        "from": {"id": first_chat + n, "is_bot": False, "first_name": "U"}}}


def post_update(port: int, body: dict, secret: str, timeout: float = 10) -> int:
    """POST a Telegram update to the server on `port`: its status, 0 if refused or cut off
    (as Telegram sees it: anything but a 2xx is delivered again)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/telegram", method="POST",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          "X-Telegram-Bot-Api-Secret-Token": secret})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


class RedisServer:
    """redis-server on a free loopback port, no persistence: never the Redis named by
    ADUAN_TEST_REDIS_URL, so a test may kill it."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            [BINARY, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(f"redis-server did not start on port {self.port}") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: the server vanishes with everything it held (locks, queued jobs)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def redis_server():
    """A private redis-server for one test, stopped afterwards."""
    server = RedisServer().start()
    yield server
    server.kill()


class LoggingBotAPI(FakeBotAPI):
    """A fake Bot API that logs (chat id, text, message id) of every sendMessage as it
    arrives: a request that reached Telegram delivered the message, whether or not its
    answer got back. Optionally answers after `delay` seconds, and holds the `hold_at`-th
    send unanswered until `release` is set."""

    def __init__(self, token: str, delay: float = 0.0, hold_at: int | None = None):
        super().__init__(token)
        self.delay, self.hold_at = delay, hold_at
        self.log: list[tuple[str, str, int]] = []
        self.holding, self.release = threading.Event(), threading.Event()
        self.server.handle_error = lambda *args: None  # an answer to a killed client: expected

    def respond(self, rec):
        if not rec.path.endswith("/sendMessage") or self.script:
            return super().respond(rec)
        params = rec.params()
        with self.lock:
            message_id = next(self.ids)
            self.log.append((str(params["chat_id"]), params.get("text", ""), message_id))
            hold = len(self.log) == self.hold_at
        if hold:
            self.holding.set()
            self.release.wait(30)
        if self.delay:
            time.sleep(self.delay)
        return 200, {}, {"ok": True, "result": {"message_id": message_id, "date": int(time.time()),
                                                 "chat": {"id": int(params["chat_id"]), "type": "private"},
                                                 "text": params.get("text", "")}}


def reconcile(rows, log) -> int:
    """Check what the provider received against the outbox rows (id, chat_id,
    provider_message_id), all sent: each row was accepted by one logged send to its chat,
    each chat's rows were accepted in id order, and every other send is an earlier copy of
    the row that was next in line at that moment (at-least-once: a send whose answer was
    lost, then sent again). Returns the number of such duplicates."""
    by_message_id = {mid: chat for chat, _, mid in log}
    per_chat: dict[str, list[int]] = {}  # each chat's accepting message ids in row order
    for row_id, chat, mid in sorted(rows):
        assert mid is not None and int(mid) in by_message_id, f"row {row_id}: no send took it"
        assert by_message_id[int(mid)] == chat, f"row {row_id} was sent to another chat"
        per_chat.setdefault(chat, []).append(int(mid))
    arrivals: dict[str, list[tuple[str, int]]] = {}
    for chat, text, mid in log:
        arrivals.setdefault(chat, []).append((text, mid))
    assert set(arrivals) == set(per_chat), "a send to a chat that has no rows"
    duplicates = 0
    for chat, accepted in per_chat.items():
        got = arrivals[chat]
        position = {mid: n for n, (_, mid) in enumerate(got)}
        order = [position[mid] for mid in accepted]
        assert order == sorted(order), f"chat {chat}: rows accepted out of order: {got}"
        text_of, taken = {mid: text for text, mid in got}, set(accepted)
        assert len(taken) == len(accepted), f"chat {chat}: one send taken by two rows"
        for n, (text, mid) in enumerate(got):
            if mid in taken:
                continue
            # a duplicate: the row next in line at that moment is the first accepted after it
            later = [m for m in accepted if position[m] > n]
            assert later and text_of[later[0]] == text, f"chat {chat}: a stray send at {n}: {got}"
            duplicates += 1
    return duplicates
