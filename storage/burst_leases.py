"""Burst leases: which office's burst (storage.inbound.BURST messages waiting or more) a
worker works, for bot.inbound's fair sharing between offices."""
from __future__ import annotations

import time

from sqlalchemy import text

from storage.db import chat_key


class BurstLeases:
    """Which office's burst this worker works (PostgreSQL): while other offices have work,
    an office's burst is handled by one worker at a time, the one holding its lease, and
    the others stay free for the other offices' messages. A lease is a session-level
    advisory lock on a connection the worker keeps for it: held across transactions until
    the worker lets it go, and let go by the server if the worker dies or loses the
    connection. On SQLite there is one writer, and nothing to share: every lease is
    granted."""

    def __init__(self, engine, clock=time.monotonic):
        self.engine, self.held, self._conn, self.clock = engine, set(), None, clock
        self.shared = engine.dialect.name == "postgresql"
        self._refused: dict[int, float] = {}  # office -> when its lease was last refused

    def hold(self, office: int) -> bool:
        """Hold this office's lease (or keep it); False if another worker holds it. A lease
        refused is asked for again only after RETRY_LEASE seconds: the workers left free ask
        every round, and a round trip a round was an eighth of their busy time during a
        flood (py-spy, bench/offices.py)."""
        if not self.shared or office in self.held:
            return True
        if self.clock() - self._refused.get(office, float("-inf")) < RETRY_LEASE:
            return False
        try:
            if self._connection().execute(text("SELECT pg_try_advisory_lock(:key)"),
                                          {"key": burst_key(office)}).scalar():
                self.held.add(office)
                self._refused.pop(office, None)
                return True
            self._refused[office] = self.clock()
            return False
        except Exception:  # the connection is gone, and the leases it held with it
            self._drop()
            raise

    def keep_only(self, offices: set[int]) -> None:
        """Let go of every lease but these offices' (and forget the refusals of the others)."""
        for office in self._refused.keys() - offices:
            del self._refused[office]
        for office in self.held - offices:
            try:
                self._connection().execute(text("SELECT pg_advisory_unlock(:key)"), {"key": burst_key(office)})
            except Exception:
                self._drop()
                return
            self.held.discard(office)

    def close(self) -> None:
        self.keep_only(set())  # let go at once (a closed connection's locks go when its backend has ended)
        self._drop()

    def _connection(self):
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _drop(self) -> None:
        conn, self._conn, self.held = self._conn, None, set()
        if conn is not None:
            try:
                conn.invalidate()  # not back to the pool: a pooled connection must hold no lock
                conn.close()
            except Exception:
                pass


RETRY_LEASE = 0.1  # seconds: a burst whose holder is gone waits this long at most for another


def burst_key(office_id: int) -> int:
    """The advisory lock key of an office's burst lease (apart from every chat's key)."""
    return chat_key(office_id, "burst", "")
