"""Draining the outbox: per-chat order, provider limits, retries, blocked recipients.

Any number of dispatchers may run (threads or processes): a chat is drained by one at
a time (a Redis lock), its rows strictly in id order; a row that must wait (429,
network trouble) holds back the rows after it. The provider call happens outside any
database transaction, so a slow provider never blocks intake.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select, update

from bot.channels.base import FAILED, HELD, RETRY, SENT, Outgoing, SendResult, Sender
from handlers import notify
from storage import dialogs, outbox, privacy
from storage.models import CitizenIdentity, OfficerIdentity, Outbox, utcnow
from storage.redis_store import Busy, RateLimiter, chat_lock

log = logging.getLogger(__name__)
# Telegram: about 1 message a second per chat and 30 a second overall. A little margin:
# requests leave in order but do not always arrive in it.
LIMITS = {"telegram": (1.1, 28)}
OUT_LOCK_TTL = 10.0  # seconds a dead dispatcher's chat stays locked


class Dispatcher:
    def __init__(self, runtime, senders: dict[str, Sender], *, clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep, max_wait: float = 2.0,
                 limits: dict[str, tuple[float, int]] | None = None):
        self.runtime = runtime
        self.senders = senders
        self.clock, self.sleep, self.max_wait = clock, sleep, max_wait
        self.limiter = RateLimiter(runtime.redis)
        wa = runtime.settings.whatsapp
        self.limits = {**LIMITS, "whatsapp": (0.0, wa.messages_per_second), **(limits or {})}

    def run_once(self) -> int:
        """Send what is due now; return how many rows were dealt with."""
        if not self.senders:
            return 0
        with self.runtime.sessions() as s:
            chats = outbox.due_chats(s, self.clock(), tuple(self.senders))
        return sum(self.drain_chat(channel, chat_id) for channel, chat_id in chats)

    def drain_chat(self, channel: str, chat_id: str, patient: bool = False) -> int:
        """Send one chat's due rows in order, unless another dispatcher is at it. A patient
        drain (an RQ job for this one chat) waits out the chat's pace instead of leaving."""
        if channel not in self.senders:
            return 0
        try:
            # Renewed while held, so a dispatcher killed mid-send frees the chat within
            # OUT_LOCK_TTL seconds, however long a live one drains (a patient drain can take
            # a minute).
            with chat_lock(self.runtime.redis, f"out-{channel}", chat_id, wait=0.01,
                           timeout=OUT_LOCK_TTL, keep_alive=True):
                return self._drain(channel, chat_id, patient=patient)
        except Busy:
            return 0  # another dispatcher has this chat

    def _next(self, channel: str, chat_id: str) -> Outgoing | None:
        with self.runtime.sessions() as s:
            row = outbox.next_for_chat(s, channel, chat_id)
            if row is None or row.next_attempt_at > self.clock():
                return None
            identity = s.scalar(select(CitizenIdentity).where(
                CitizenIdentity.channel == channel, CitizenIdentity.external_id == chat_id))
            if identity is not None and identity.blocked_at is not None:
                self._give_up_chat(channel, chat_id, "recipient blocked the bot")
                return None
            if identity is None:  # an officer's chat: their own 24-hour window
                identity = s.scalar(select(OfficerIdentity).where(
                    OfficerIdentity.channel == channel, OfficerIdentity.external_id == chat_id))
            return Outgoing(row.id, row.chat_id, dict(row.payload), row.purpose,
                            identity.last_inbound_at if identity else None)

    def _drain(self, channel: str, chat_id: str, most: int = 50, patient: bool = False) -> int:
        sender = self.senders[channel]
        chat_interval, per_second = self.limits.get(channel, (0.0, 30))
        done = 0
        while done < most:
            message = self._next(channel, chat_id)
            if message is None:
                return done
            wait, why = self.limiter.check(channel, chat_id, chat_interval, per_second)
            if (why == "chat" and not patient) or wait > self.max_wait:
                return done  # other chats go first; this one's row keeps its place
            if wait > 0:  # the provider's per-second cap: wait it out
                self.sleep(wait)
                continue
            result = sender.send(message)
            self._record(channel, chat_id, message, result)
            done += 1
            if result.status not in (SENT, HELD):
                return done  # a retry keeps its place; later rows wait behind it
        return done

    def _record(self, channel: str, chat_id: str, message: Outgoing, result: SendResult) -> None:
        now = self.clock()
        with self.runtime.transaction() as s:
            row = s.get(Outbox, message.id)
            if result.status == SENT:
                outbox.mark_sent(row, result.provider_message_id, now)
                row.template_sid = result.template_sid
            elif result.status == RETRY and result.paced:
                # The provider's own pacing: wait as told, and it is not a failed attempt.
                row.next_attempt_at = now + timedelta(seconds=result.delay)
                row.error = result.error
            elif result.status == RETRY:
                backoff = max(result.delay, min(300.0, 2.0 ** row.attempts))
                outbox.mark_retry(row, backoff, result.error or "retry", now)
            elif result.status == HELD:
                outbox.mark_held(row, result.error or "held")
                notify.held_for_officer(s, self.runtime.officers.office, channel, chat_id, now)
            else:
                outbox.mark_failed(row, result.error or "failed", now)
        if result.status == FAILED and (result.error or "").startswith("undeliverable"):
            self._give_up_chat(channel, chat_id, result.error)
        log.info("outbox %s row %s: %s", channel, message.id, result.status)  # no texts: they may hold numbers

    def _give_up_chat(self, channel: str, chat_id: str, reason: str) -> None:
        """The recipient cannot be reached: stop, and say why on every waiting row."""
        now = self.clock()
        with self.runtime.transaction() as s:
            s.execute(update(CitizenIdentity).where(
                CitizenIdentity.channel == channel, CitizenIdentity.external_id == chat_id,
                CitizenIdentity.blocked_at.is_(None)).values(blocked_at=now))
            s.execute(update(Outbox).where(
                Outbox.channel == channel, Outbox.chat_id == chat_id, Outbox.status == outbox.PENDING)
                .values(status=outbox.FAILED, error=f"undeliverable: {reason}"[:500]))


class Housekeeping:
    """Deletes half-filled forms past their expiry (their personal data goes with them, and
    what they echoed back to the chat), and clears the texts of messages delivered more
    than privacy.outbox_text_days ago (DESIGN: keep outbox texts only until delivered and
    a while after, for support)."""

    def __init__(self, runtime, every: float = 60.0):
        self.runtime, self.every, self._last = runtime, every, 0.0

    def run_once(self) -> int:
        if time.monotonic() - self._last < self.every:
            return 0
        self._last = time.monotonic()
        now = self.runtime.clock()
        with self.runtime.transaction() as s:
            purged = dialogs.purge_expired(s, now)
        if purged:
            log.info("deleted %d expired dialogs", purged)
        cut = now - timedelta(days=self.runtime.settings.privacy.outbox_text_days)
        with self.runtime.transaction() as s:
            cleared = privacy.clear_delivered(s, cut, now)
        if cleared:
            log.info("cleared the texts of %d delivered messages", cleared)
        return 0  # never a reason to hurry the next round


class OutboundLoop:
    """Runs a dispatcher (and the attachment fetcher) until stopped; `wake()` makes it
    look again at once."""

    def __init__(self, dispatcher: Dispatcher, fetcher=None, housekeeping=None, idle: float = 1.0):
        self.dispatcher, self.fetcher, self.idle = dispatcher, fetcher, idle
        self.jobs = [j.run_once for j in (dispatcher, fetcher, housekeeping) if j is not None]
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            busy = 0
            for work in self.jobs:
                try:
                    busy += work()
                except Exception:  # keep the loop alive; the rows stay pending
                    log.exception("outbound round failed")
            if not busy:
                self._wake.wait(self.idle)
                self._wake.clear()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="outbound", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
