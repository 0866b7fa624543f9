"""The scheduler: every tick, the deadline rows that are due, found through their indexes.

Only one scheduler acts at a time (a Redis leader lock, renewed each tick); each batch of
due rows is handled in one transaction (a failed batch is redone row by row, so one bad
row holds up nothing else), locked with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL,
and reminders are claimed by a unique key, so neither a second scheduler, a restart, a
crash mid-tick nor a clock jump makes anything go twice or be missed: what is due stays
due in the database until it is done.

A tick goes through the offices one by one, each in its own sessions and on its own
calendar and workflow: an office's reminders, breaches, duties, digests and reports are
that office's alone.
"""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta

from sqlalchemy import select

from bot import periodic
from handlers import deadlines, duties
from storage.models import Deadline
from storage.redis_store import LeaderLock

log = logging.getLogger(__name__)
BATCH = 200


def _due_reminders(now) -> tuple:
    return Deadline.completed_at.is_(None), Deadline.next_remind_at <= now


def _due_breaches(now) -> tuple:
    return (Deadline.completed_at.is_(None), Deadline.breached_at.is_(None), Deadline.paused_at.is_(None),
            Deadline.due_at <= now)


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
        done = {"duties": 0, "reminders": 0, "breaches": 0, "periodic": 0}
        try:
            leading = self.leader.renew() or self.leader.acquire()
        except Exception as exc:  # Redis down: row locks and unique keys still keep us safe
            log.warning("scheduler without the leader lock (%s)", type(exc).__name__)
            leading = True
        if not leading:
            return done
        now = self.clock()
        for office in self._offices():
            try:
                for key, n in self.tick_office(office, now).items():
                    done[key] += n
            except Exception:  # one office's trouble (its workflow file gone) holds up no other
                log.exception("scheduler: office #%s failed; retried next tick", office.id)
        if any(done.values()):
            self.runtime.wake_all()
        return done

    def _offices(self) -> list:
        # The deployment's offices; given one office's runtime, that office.
        return self.runtime.offices() if hasattr(self.runtime, "offices") else [self.runtime]

    def tick_office(self, rt, now) -> dict:
        """What is due now in one office, in that office's sessions."""
        done = {"duties": 0, "reminders": 0, "breaches": 0, "periodic": 0}
        try:  # before the due rows: a duty opened late (after a stop) is reminded in this tick
            with rt.transaction() as s:
                done["duties"] = duties.open_due(s, rt.conversation.office, now)
        except Exception:
            log.exception("opening periodic duties failed; retried next tick")
        for ids in self._batches(rt, _due_reminders(now), Deadline.next_remind_at):
            done["reminders"] += self.remind_batch(rt, ids, now)
        for ids in self._batches(rt, _due_breaches(now), Deadline.due_at):
            done["breaches"] += self.breach_batch(rt, ids, now)
        try:
            done["periodic"] = periodic.run_due(rt, now)
        except Exception:
            log.exception("periodic jobs failed; retried next tick")
        return done

    def remind_batch(self, rt, ids: list[int], now) -> int:
        """Send the reminders due on these rows of an office. Returns how many went."""
        office = rt.conversation.office
        return self._batch(rt, ids, _due_reminders(now), lambda s, rows: deadlines.remind_all(s, office, rows, now),
                           lambda row_id: self._postpone(rt, row_id, now))

    def breach_batch(self, rt, ids: list[int], now) -> int:
        """Act on the breaches due on these rows of an office. Returns how many."""
        office = rt.conversation.office

        def work(s, rows):
            for row in rows:
                deadlines.breach(s, office, row, now)
            return len(rows)
        return self._batch(rt, ids, _due_breaches(now), work, lambda row_id: None)  # retried next tick

    def _batch(self, rt, ids: list[int], due, work, failed) -> int:
        """`work` on the rows of `ids` still due, in one transaction (one commit for the
        batch, not one per row); a failed batch is redone row by row so that one bad row
        (e.g. its workflow file gone) holds up nothing else, and `failed` is told of it."""
        try:
            with rt.transaction() as s:
                return work(s, self._lock(s, ids, due))
        except Exception:
            log.warning("a batch of %d deadlines failed; taking its rows one by one", len(ids))
        done = 0
        for row_id in ids:
            try:
                with rt.transaction() as s:
                    done += work(s, self._lock(s, [row_id], due))
            except Exception:
                log.exception("deadline %s failed", row_id)
                failed(row_id)
        return done

    def _postpone(self, rt, row_id: int, now) -> None:
        with rt.transaction() as s:
            row = s.get(Deadline, row_id)
            if row is not None:
                row.next_remind_at = now + timedelta(hours=1)

    def _batches(self, rt, where, order):
        seen = set()
        while True:
            with rt.sessions() as s:
                ids = [i for i in s.scalars(select(Deadline.id).where(*where).order_by(order).limit(BATCH))
                       if i not in seen]
            if not ids:
                return
            seen.update(ids)
            yield ids

    @staticmethod
    def _lock(session, ids: list[int], where) -> list[Deadline]:
        """The rows of `ids` still due, locked for this transaction; another scheduler's rows
        are skipped, not waited for."""
        return list(session.scalars(select(Deadline).where(Deadline.id.in_(ids), *where)
                                    .order_by(Deadline.id).with_for_update(skip_locked=True)))

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
