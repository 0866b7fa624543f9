"""Redis: a real server, or `memory://` for the in-process fakeredis of the embedded default.

Redis only coordinates (per-chat locks, the scheduler's leader lock, queues); anything
in it can be rebuilt from the database, so losing the in-process one on restart loses
nothing.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

import redis

MEMORY_URL = "memory://"
_memory_server = None


def connect(url: str) -> redis.Redis:
    """A client for `url`; every `memory://` client of a process shares one fake server."""
    global _memory_server
    if url == MEMORY_URL:
        import fakeredis

        if _memory_server is None:
            _memory_server = fakeredis.FakeServer()
        return fakeredis.FakeRedis(server=_memory_server, decode_responses=True)
    return redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2,
                                socket_timeout=5, health_check_interval=30)


class Busy(Exception):
    """Another process holds the lock."""


@contextmanager
def chat_lock(client: redis.Redis, channel: str, chat_id: str, *, timeout: float = 30,
              wait: float = 10, prefix: str = "aduan", keep_alive: bool = False) -> Iterator[None]:
    """Serialize the handling of one conversation across threads and processes.

    With `keep_alive` the lock is renewed in the background while it is held, so `timeout`
    can be short whatever the work takes: a holder that dies (kill -9) frees the
    conversation within `timeout` seconds instead of blocking it for the longest possible
    piece of work."""
    lock = client.lock(f"{prefix}:chat:{channel}:{chat_id}", timeout=timeout,
                       blocking_timeout=wait, thread_local=not keep_alive)
    if not lock.acquire():
        raise Busy(f"conversation {channel}:{chat_id} is busy")
    done = threading.Event()
    if keep_alive:
        threading.Thread(target=_keep_alive, args=(lock, timeout / 3, done), daemon=True,
                         name="chat-lock-keep-alive").start()
    try:
        yield
    finally:
        done.set()
        try:
            lock.release()
        except redis.RedisError:  # LockError included: it expired while we worked
            pass  # the next holder is already in, or Redis is gone and the key expires


def _keep_alive(lock, every: float, done: threading.Event) -> None:
    """Reset the lock's time to live every `every` seconds until `done`."""
    while not done.wait(every):
        try:
            lock.reacquire()
        except redis.RedisError:  # LockError included: not ours any more, or Redis is gone
            return


class LeaderLock:
    """At most one holder at a time (e.g. the scheduler); renew it before `ttl` runs out."""

    def __init__(self, client: redis.Redis, name: str, ttl: float = 60, prefix: str = "aduan"):
        # Not thread-local: a scheduler may acquire in one thread and release in another.
        self._lock = client.lock(f"{prefix}:leader:{name}", timeout=ttl, blocking=False,
                                 thread_local=False)

    def acquire(self) -> bool:
        return bool(self._lock.acquire(blocking=False))

    def renew(self) -> bool:
        try:
            return bool(self._lock.reacquire())
        except redis.exceptions.LockError:
            return False

    def release(self) -> None:
        try:
            self._lock.release()
        except (redis.exceptions.LockError, redis.RedisError):
            pass  # not held (any more), or Redis is gone: it expires by itself


_SLIDING_WINDOW = """
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


class RateLimiter:
    """Shared send limits across processes: one message per `chat_interval` seconds per
    chat, and at most `per_second` messages in any one-second window per scope (e.g.
    Telegram's 30/s), kept in Redis so every worker counts against the same limit."""

    def __init__(self, client: redis.Redis, prefix: str = "aduan"):
        self.client, self.prefix = client, prefix
        self._window = client.register_script(_SLIDING_WINDOW)

    def wait_time(self, scope: str, chat_id: str, chat_interval: float, per_second: int) -> float:
        """0 when a message may go now (and it is counted), else the seconds to wait."""
        return self.check(scope, chat_id, chat_interval, per_second)[0]

    def check(self, scope: str, chat_id: str, chat_interval: float, per_second: int) -> tuple[float, str]:
        """(0, "") when a message may go now (and it is counted), else (seconds to wait,
        "chat" or "global"): a busy chat should be left for later, a busy second waited out."""
        chat_key = f"{self.prefix}:rate:{scope}:chat:{chat_id}"
        ttl = self.client.pttl(chat_key)
        if ttl and ttl > 0:
            return ttl / 1000, "chat"
        now = time.time()
        wait = float(self._window(keys=[f"{self.prefix}:rate:{scope}:window"],
                                  args=[now, 1.0, per_second, f"{now}:{chat_id}"]))
        if wait > 0:
            return max(0.001, wait), "global"
        if chat_interval > 0:
            self.client.set(chat_key, 1, px=max(1, int(chat_interval * 1000)))
        return 0.0, ""


class Nudges:
    """"There is work": a web process that stored a message tells the workers, so an idle
    worker starts at once instead of at its next look (inbound.poll_seconds). A list in
    Redis of the offices whose messages were stored: one push wakes one waiting worker; it
    is kept short, since a worker looks at everything that waits whenever it wakes. Losing
    it loses nothing: workers look anyway."""

    def __init__(self, client: redis.Redis, key: str = "aduan:inbound:nudge", keep: int = 64,
                 every: float = 0.02):
        self.client, self.key, self.keep, self.every = client, key, keep, every
        self._last: dict[int, float] = {}  # office -> when this process last pushed for it

    def push(self, office: int = 0, force: bool = False) -> None:
        """At most one push every `every` seconds from a process for an office (unless
        `force`): under load the workers are busy anyway, and a busy worker looks again as
        soon as its round ends. Office 0: any (a stop)."""
        now = time.monotonic()
        if now - self._last.get(office, float("-inf")) < self.every and not force:
            return
        self._last[office] = now
        try:
            with self.client.pipeline(transaction=False) as p:
                p.lpush(self.key, office)
                p.ltrim(self.key, 0, self.keep - 1)
                p.execute()
        except redis.RedisError:
            pass  # the workers' own look finds the message

    def wait(self, timeout: float, ignore: frozenset | set = frozenset()) -> int | None:
        """Until a push for an office not in `ignore`, for at most `timeout` seconds: which
        office it was for (0: any), or None. A worker that leaves an office's burst to
        another worker ignores that office's pushes: during a flood they come all the time,
        and each was a round for nothing (the burst's holder, busy, never waits)."""
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                got = self.client.blpop([self.key], timeout=max(left, 0.01))
                if got is None:
                    return None
                office = int(got[1]) if got[1].isdigit() else 0
                if office not in ignore:
                    return office
        except redis.RedisError:
            time.sleep(max(0.0, deadline - time.monotonic()))
        return None
