"""Redis: a real server, or `memory://` for the in-process fakeredis of the embedded default.

Redis only coordinates (per-chat locks, the scheduler's leader lock, queues); anything
in it can be rebuilt from the database, so losing the in-process one on restart loses
nothing.
"""
from __future__ import annotations

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
              wait: float = 10, prefix: str = "aduan") -> Iterator[None]:
    """Serialize the handling of one conversation across threads and processes."""
    lock = client.lock(f"{prefix}:chat:{channel}:{chat_id}", timeout=timeout,
                       blocking_timeout=wait)
    if not lock.acquire():
        raise Busy(f"conversation {channel}:{chat_id} is busy")
    try:
        yield
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass  # it expired while we worked; the next holder is already in


class LeaderLock:
    """At most one holder at a time (e.g. the scheduler); renew it before `ttl` runs out."""

    def __init__(self, client: redis.Redis, name: str, ttl: float = 60, prefix: str = "aduan"):
        self._lock = client.lock(f"{prefix}:leader:{name}", timeout=ttl, blocking=False)

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
        except redis.exceptions.LockError:
            pass
