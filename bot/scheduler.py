"""The scheduler: every tick, the deadline rows that are due, found through their indexes.

Only one scheduler acts at a time (a Redis leader lock, renewed each tick); each row is
handled in its own transaction, locked with SELECT ... FOR UPDATE SKIP LOCKED on
PostgreSQL, and reminders are claimed by a unique key, so neither a second scheduler, a
restart, a crash mid-tick nor a clock jump makes anything go twice or be missed: what is
due stays due in the database until it is done.
"""
from __future__ import annotations

import logging
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import select

from bot import periodic
from handlers import deadlines
from storage.models import Deadline
from storage.redis_store import LeaderLock

log = logging.getLogger(__name__)
BATCH = 200


class Scheduler:
    def __init__(self, runtime, clock=None, tick_seconds: float = 30.0):
        self.runtime = runtime
        self.clock = clock or (lambda: runtime.clock())
        self.tick_seconds = tick_seconds
        self.leader = LeaderLock(runtime.redis, "scheduler", ttl=max(10.0, tick_seconds * 3))
        self.name = uuid.uuid4().hex[:8]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one tick -------------------------------------------------------------------------
    def tick(self) -> dict:
        """Handle everything due now; return what was done (for logs and tests)."""
        done = {"reminders": 0, "breaches": 0, "periodic": 0}
        try:
            leading = self.leader.renew() or self.leader.acquire()
        except Exception as exc:  # Redis down: row locks and unique keys still keep us safe
            log.warning("scheduler without the leader lock (%s)", type(exc).__name__)
            leading = True
        if not leading:
            return done
        now = self.clock()
        office = self.runtime.conversation.office
        due_reminders = (Deadline.completed_at.is_(None), Deadline.next_remind_at <= now)
        due_breaches = (Deadline.completed_at.is_(None), Deadline.breached_at.is_(None),
                        Deadline.paused_at.is_(None), Deadline.due_at <= now)
        for ids in self._batches(due_reminders, Deadline.next_remind_at):
            for row_id in ids:
                try:
                    with self._locked(row_id, due_reminders) as (s, row):
                        if row is not None and deadlines.remind(s, office, row, now):
                            done["reminders"] += 1
                except Exception:  # one bad row (e.g. a workflow file gone) stops nothing else
                    log.exception("reminder of deadline %s failed; retried in an hour", row_id)
                    self._postpone(row_id, now)
        for ids in self._batches(due_breaches, Deadline.due_at):
            for row_id in ids:
                try:
                    with self._locked(row_id, due_breaches) as (s, row):
                        if row is not None:
                            deadlines.breach(s, office, row, now)
                            done["breaches"] += 1
                except Exception:
                    log.exception("breach of deadline %s failed; retried next tick", row_id)
        try:
            done["periodic"] = periodic.run_due(self.runtime, now)
        except Exception:
            log.exception("periodic jobs failed; retried next tick")
        if any(done.values()):
            self.runtime.wake_all()
        return done

    def _postpone(self, row_id: int, now) -> None:
        with self.runtime.transaction() as s:
            row = s.get(Deadline, row_id)
            if row is not None:
                row.next_remind_at = now + timedelta(hours=1)

    def _batches(self, where, order):
        seen = set()
        while True:
            with self.runtime.sessions() as s:
                ids = [i for i in s.scalars(select(Deadline.id).where(*where).order_by(order).limit(BATCH))
                       if i not in seen]
            if not ids:
                return
            seen.update(ids)
            yield ids

    @contextmanager
    def _locked(self, row_id: int, where):
        """One row in its own transaction; another scheduler's row is skipped, not waited for."""
        with self.runtime.transaction() as s:
            yield s, s.scalar(select(Deadline).where(Deadline.id == row_id, *where)
                              .with_for_update(skip_locked=True))

    # -- running ----------------------------------------------------------------------------
    def run(self) -> None:
        log.info("scheduler %s: a tick every %ss", self.name, self.tick_seconds)
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the next tick tries again; nothing is lost
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick_seconds)
        self.leader.release()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
