"""The inbound workers: handle what the webhooks stored, one chat's messages strictly in
order, each message's effects and its "handled" mark in the same transaction.

Every process that handles messages runs this loop: `aduan run` in its loops process
beside its web worker (sharing SQLite's single writer: bot.embedded_loops), `aduan worker`
in production, any number of them. A round looks at the chats with work, fairly across
offices (each office's longest-waiting chat before any office's second:
storage.inbound.pending_chats), and takes one message of each chat it can claim
(storage.inbound says how a chat is claimed), so neither a chat with a long backlog nor an
office with a burst holds up the others; an office whose message arrives during a round
goes next (run_once), and while other offices have work an office's burst is worked by
one worker at a time (_shared). Several chats of one office are
handled in one transaction, a batch (handle_batch: fewer round trips and commits; a
failure redoes them one by one). Each message is handled in its office's own session, by
its office's conversation. A crash before the commit leaves the rows unhandled: the next
round, in this process or another, handles them again, and since nothing of the first
attempt was committed their effects happen once.

A message whose handling raises is tried again; after `inbound.max_tries` failures it is
set aside (marked handled with its outline only, `set_aside_at` set) and the coordinators
are told, so the chat's later messages are handled: one broken message never stops a
conversation. Losing the database (a connection error) is not the message's fault and
does not count as a try; the loop waits and looks again.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque

from sqlalchemy.exc import InterfaceError, OperationalError

from handlers.inbound import handle, set_aside
from storage import inbound as queue
from storage.burst_leases import BurstLeases

log = logging.getLogger(__name__)
ROUND = 20  # chats looked at in one round
OTHERS_FOR = 2.0  # seconds another office's work counts as recent (_shared)
STUCK_FOR = 10.0  # seconds a burst's head may stay where it is before its lease counts for nothing (_shared)


def _turned(items: list, turn: int) -> list:
    k = turn % len(items) if items else 0
    return items[k:] + items[:k]


class InboundLoop:
    def __init__(self, runtime, max_tries: int = 5, idle: float = 0.5, batch: int = 8):
        self.runtime, self.max_tries, self.idle = runtime, max_tries, idle
        # False: the chat's context read query by query, replies written one by one (the
        # reference tests/test_lean_equivalence.py compares the lean path with)
        self.lean = True
        self.batch = batch  # chats of one office handled in one transaction (handle_batch)
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._rounds = 0
        self._newest = 0  # the newest inbound id the round has seen (run_once)
        self.nudges = None  # a storage.redis_store.Nudges when web processes store apart from this one
        self._leases: BurstLeases | None = None
        self._left: set[int] = set()  # the bursts this round leaves to their lease's holder (_shared)
        self._heads: dict[int, tuple[int, float]] = {}  # burst -> (the id at its head, since when)
        self._others_at = float("-inf")  # time.monotonic() this worker last saw an office without a burst at work

    # -- one message -------------------------------------------------------------------
    def handle_next(self, office_id: int, channel: str, chat_id: str) -> bool:
        """Handle the lowest unhandled message of this office's chat, if this worker can
        claim the chat; True if one was handled (or set aside)."""
        rt, now, row_id = self.runtime.office(office_id), self.runtime.clock(), None
        if rt is None:
            log.error("inbound for office #%s, which is not in the offices table", office_id)
            return False
        try:
            with rt.transaction() as s:
                if not queue.claim_chat(s, channel, chat_id):
                    return False  # another worker has it; its messages stay in order there
                row = queue.next_of_chat(s, channel, chat_id, with_context=self.lean)
                if row is None:
                    return False
                row_id = row.id
                handle(s, rt.conversation, rt.officers, row, now, batch=self.lean)
                chats = s.info.pop("outbox_chats", set())
        except (OperationalError, InterfaceError):
            if not self._database_answers():
                raise  # the database is away, not the message's fault: no try is counted
            # the database answers, so the message itself hit it (a statement or lock timeout,
            # a deadlock again and again): a try, so that max_tries sets it aside
            log.warning("inbound #%s on %s failed in the database", row_id, channel, exc_info=True)
            if row_id is not None:
                self._failed(rt, row_id)
            return False
        except Exception:
            log.warning("inbound #%s on %s failed", row_id, channel, exc_info=True)
            if row_id is not None:
                self._failed(rt, row_id)
            return False
        for out_channel, out_chat in chats:
            rt.wake_outbound(out_channel, out_chat)
        return True

    def handle_batch(self, office_id: int, chats: list[tuple[str, str]], enough=None) -> tuple[int, list]:
        """The lowest unhandled message of each of these chats of one office, in one
        transaction: the chats this worker can claim and their messages read in a statement
        each, the "handled" marks in one, one commit; how many were handled. One message's
        failure takes the whole batch back, and its chats are then handled one by one
        (handle_next, which counts the tries): a batch saves round trips, never changes
        what is done. `enough(session)`, asked after each message, ends the batch early,
        with what is done so far committed. (how many were handled, the chats the batch did
        not come to)."""
        if len(chats) == 1 or not self.lean:
            return self._one_by_one(office_id, chats), []
        rt, now = self.runtime.office(office_id), self.runtime.clock()
        if rt is None:
            log.error("inbound for office #%s, which is not in the offices table", office_id)
            return 0, []
        rest: list = []
        try:
            with rt.transaction() as s:
                rows = queue.next_of_chats(s, queue.claim_chats(s, chats))
                with queue.batched(s):
                    done = 0
                    for row in rows:
                        handle(s, rt.conversation, rt.officers, row, now)
                        queue.message_done(s)  # what it changed of the next chats is read again
                        done += 1
                        if enough is not None and done < len(rows) and enough(s):
                            reached = {(r.channel, r.chat_id) for r in rows[:done]}
                            rest = [chat for chat in chats if chat not in reached]
                            break
                out = s.info.pop("outbox_chats", set())
        except (OperationalError, InterfaceError):
            if not self._database_answers():
                raise
            log.info("inbound: a batch of %s chats failed in the database; one by one", len(chats))
            return self._one_by_one(office_id, chats), []
        except Exception:
            log.info("inbound: a batch of %s chats failed; one by one", len(chats), exc_info=True)
            return self._one_by_one(office_id, chats), []
        for out_channel, out_chat in out:
            rt.wake_outbound(out_channel, out_chat)
        return done, rest

    def _one_by_one(self, office_id: int, chats: list[tuple[str, str]]) -> int:
        return sum(self.handle_next(office_id, channel, chat) for channel, chat in chats)

    def _reads(self):
        """A connection for the round's reads, each one statement: no transaction around
        them (on PostgreSQL the webhooks' autocommit engine, so a read is one round trip, not
        BEGIN, the read and a ROLLBACK)."""
        return self.runtime.ack_engine.connect()

    def _database_answers(self) -> bool:
        try:
            with self.runtime.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    def _failed(self, rt, row_id: int) -> None:
        with rt.transaction() as s:
            row = queue.failed(s, row_id, self.max_tries, rt.clock())
            if row is not None:
                set_aside(s, rt.conversation.office, row, self.max_tries, rt.clock())
                chats = s.info.pop("outbox_chats", set())
            else:
                chats = set()
        for out_channel, out_chat in chats:
            rt.wake_outbound(out_channel, out_chat)

    # -- rounds ------------------------------------------------------------------------
    def run_once(self) -> int:
        """One round: one message of each chat with work, up to ROUND; how many were
        handled. The round takes the offices in turn, one chat of each (their chats in
        pending_chats's order: every office's first before any office's second), and with
        more than one office, an office that has a message arrive while it has no chat
        left in the round joins it (storage.inbound.arrivals_since: a look at the newest
        ids after each message): so while one office's burst fills the rounds, another
        office's message waits for a message of each office with work, not for the
        round. Each worker starts the turn at an office of its own, and each office's chats
        at a chat of its own, so two workers do not both try the same chats in the same
        order (a chat another worker holds is passed over: storage.inbound.claim_chat)."""
        many = len(self.runtime.offices()) > 1
        bursts: dict[int, int] = {}
        with self._reads() as conn:
            newest, plan = queue.plan_round(conn, ROUND, bursts)
        self._newest = newest if many else 0
        if many:
            plan = self._shared(plan, bursts)
        else:
            self._left = set()  # one office: no burst to leave to another (and no nudge to sleep through)
        self._rounds += 1
        lanes: dict[int, deque] = {}  # office -> its chats in this round
        for office, channel, chat in plan:
            lanes.setdefault(office, deque()).append((channel, chat))
        # the offices in turn, and each office's chats, turned by the process's own turn
        # (the same input is handled alike in one process)
        turn = os.getpid() + self._rounds
        turns = deque(_turned(list(lanes), turn))
        for office in turns:
            lanes[office] = deque(_turned(list(lanes[office]), turn))
        done = tries = 0
        while turns and tries < len(plan):  # one chat's trouble never holds up the others
            office = turns.popleft()
            lane = lanes[office]
            batch = [lane.popleft() for _ in range(min(len(lane), self._batch_size(len(plan))))]
            if lane:
                turns.append(office)
            else:
                del lanes[office]
            try:
                handled, rest = self.handle_batch(office, batch, (lambda s: self._joined(lanes, turns, office, s))
                                                  if many else None)
            except (OperationalError, InterfaceError):
                log.warning("inbound: the database is away; %s chats wait", len(batch))
                return done  # every chat would fail alike: the round ends, the rows wait
            done += handled
            tries += len(batch) - len(rest)
            if rest:  # the batch ended early for another office: its chats go on after it
                if office not in lanes:
                    lanes[office] = deque()
                    turns.append(office)
                lanes[office].extendleft(reversed(rest))
            if many and tries < len(plan):
                self._joined(lanes, turns)
        return done

    def _shared(self, plan: list, bursts: dict[int, int]) -> list:
        """The plan, less the bursts other workers work while other offices have work. An
        office in a burst (storage.inbound.pending_chats: storage.inbound.BURST messages
        waiting or more) is handled by the worker holding its lease
        (storage.burst_leases); the other workers, left free, take the other
        offices' messages the moment they come instead of being in the burst's batches
        when they do (on two cores, the quiet offices' reply p99 during a flood 6.1 - 6.5
        -> 3.3 - 3.8 times their p99 alone, the flood handled a little slower meanwhile:
        bench/offices.py). When no other office has had work for OTHERS_FOR seconds, every
        worker helps with the bursts, and so they do with a burst whose head has not moved
        for STUCK_FOR seconds (its holder is stuck)."""
        now = time.monotonic()
        offices = {office for office, _, _ in plan}
        if offices - bursts.keys():
            self._others_at = now
        heads = {}
        for office, head in bursts.items():  # since when each burst's head has been where it is
            seen = self._heads.get(office)
            heads[office] = seen if seen is not None and seen[0] == head else (head, now)
        self._heads = heads
        if self._leases is None:
            self._leases = BurstLeases(self.runtime.engine)
        self._leases.keep_only(set(bursts))
        others = now - self._others_at < OTHERS_FOR
        self._left = {office for office in bursts if others and now - self._heads[office][1] < STUCK_FOR
                      and not self._leases.hold(office)}
        return [chat for chat in plan if chat[0] not in self._left] if self._left else plan

    def _batch_size(self, planned: int) -> int:
        """self.batch, but at most half the chats of the round: a few chats with work are
        left for another worker to take side by side, not all claimed by one batch."""
        return max(1, min(self.batch, planned // 2))

    def _joined(self, lanes: dict, turns: deque, busy: int | None = None, session=None) -> bool:
        """The offices with no chat left in the round that have a message now join it, at
        the end of the turn; whether any did. Asked during a batch (`busy`: its office,
        `session`: its transaction, read through rather than another connection), the
        offices that join go before the busy office's next turn, and the answer is whether
        any but the busy office joined. (An office still in the round gets its new chats in
        the next round: a burst never lengthens a round.)"""
        if session is None:
            with self._reads() as conn:
                arrived = queue.arrivals_since(conn, self._newest)
        else:
            arrived = queue.arrivals_since(session, self._newest)
        joined = []
        for _, office, channel, chat in arrived:
            if office not in lanes and office not in self._left:  # a burst left to its holder stays left
                lanes[office] = deque([(channel, chat)])
                if busy is not None and office != busy and busy in turns:
                    turns.insert(turns.index(busy), office)
                else:
                    turns.append(office)
                if office != busy:
                    joined.append((office, channel, chat))
        if arrived:
            self._newest = arrived[-1][0]
        if session is None or not joined:
            return bool(joined)
        # Of two workers in a burst's batches, the one that holds the newcomer's chat stops
        # for it (the hold ends with the batch's commit, a moment before its turn); the
        # other goes on with its batch.
        return queue.hold_any(session, joined)

    def drain(self, rounds: int = 10_000) -> int:
        """Handle until nothing is left that this worker can claim (tests, `--burst`)."""
        done = 0
        for _ in range(rounds):
            with self.runtime.sessions() as s:
                if not queue.pending_chats(s, limit=1):
                    return done
            try:
                handled = self.run_once()
            except (OperationalError, InterfaceError):  # a connection lost: the pool gives a new one
                log.warning("inbound round failed", exc_info=True)
                handled = 0
            done += handled
            if not handled and self._stop.wait(0.01):
                return done
        return done

    def wake(self, office_id: int = 0) -> None:
        self._wake.set()
        if self.nudges is not None:
            self.nudges.push(office_id)  # the loop waits on those, not on the event

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the database is away: the rows wait, look again soon
                log.warning("inbound round failed", exc_info=True)
                busy = 0
            if not busy:
                if self.nudges is not None:  # another process (a web process) stored it
                    self.nudges.wait(self.idle, ignore=self._left)  # not for a burst another worker works
                else:
                    self._wake.wait(self.idle)
                    self._wake.clear()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="inbound", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self.nudges is not None:
            self.nudges.push(force=True)  # out of its wait at once
        if self._thread is not None:
            self._thread.join(10)
        if self._leases is not None and not self.running:  # never under a loop still using them
            self._leases.close()
            self._leases = None
