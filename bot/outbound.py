"""Draining the outbox: per-chat order, provider limits, retries, blocked recipients.

Any number of dispatchers may run (threads or processes): a chat is drained by one at
a time (a Redis lock), its rows strictly in id order; a row that must wait (429,
network trouble) holds back the rows after it. The provider call happens outside any
database transaction, so a slow provider never blocks intake. A row goes out through
its office's own sender (its bot, its WhatsApp number), counted against that sender's
limits; the same chat id on two offices' bots is two chats.
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
from storage.base import FIRST_OFFICE
from storage.models import CitizenIdentity, OfficerIdentity, Outbox, utcnow
from storage.redis_store import Busy, RateLimiter, chat_lock

log = logging.getLogger(__name__)
# Telegram: about 1 message a second per chat and 30 a second overall. A little margin:
# requests leave in order but do not always arrive in it.
LIMITS = {"telegram": (1.1, 28)}
OUT_LOCK_TTL = 10.0  # seconds a dead dispatcher's chat stays locked


def per_office(senders) -> Callable[[], dict[int, dict[str, Sender]]]:
    """{office id: {channel: sender}}, asked each round (offices come and go); a plain
    {channel: sender} is the first office's (tests, benchmarks)."""
    if callable(senders):
        return senders
    fixed = {FIRST_OFFICE: dict(senders)}
    return lambda: fixed


class Dispatcher:
    def __init__(self, runtime, senders, *, clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep, max_wait: float = 2.0,
                 limits: dict[str, tuple[float, int]] | None = None):
        self.runtime = runtime
        self._senders = per_office(senders)
        self.clock, self.sleep, self.max_wait = clock, sleep, max_wait
        self.limiter = RateLimiter(runtime.redis)
        self._limits = limits or {}

    def senders(self, office_id: int) -> dict[str, Sender]:
        return self._senders().get(office_id, {})

    def _limit(self, office, channel: str) -> tuple[float, int]:
        if channel in self._limits:
            return self._limits[channel]
        if channel == "whatsapp":  # the sender number's own Twilio rate
            return 0.0, office.settings.whatsapp.messages_per_second
        return LIMITS.get(channel, (0.0, 30))

    def run_once(self) -> int:
        """Send what is due now; return how many rows were dealt with."""
        senders = self._senders()
        if not senders:
            return 0
        channels = tuple({c for by_channel in senders.values() for c in by_channel})
        with self.runtime.sessions() as s:  # across offices: each chat is then drained in its own
            chats = outbox.due_chats(s, self.clock(), channels)
        return sum(self.drain_chat(office_id, channel, chat_id) for office_id, channel, chat_id in chats
                   if channel in senders.get(office_id, {}))

    def drain_chat(self, office_id: int, channel: str, chat_id: str, patient: bool = False) -> int:
        """Send one chat's due rows in order, unless another dispatcher is at it. A patient
        drain (an RQ job for this one chat) waits out the chat's pace instead of leaving."""
        office = self.runtime.office(office_id)
        if office is None or channel not in self.senders(office_id):
            return 0
        try:
            # Renewed while held, so a dispatcher killed mid-send frees the chat within
            # OUT_LOCK_TTL seconds, however long a live one drains (a patient drain can take
            # a minute).
            with chat_lock(self.runtime.redis, f"out-{office_id}-{channel}", chat_id, wait=0.01,
                           timeout=OUT_LOCK_TTL, keep_alive=True):
                return self._drain(office, channel, chat_id, patient=patient)
        except Busy:
            return 0  # another dispatcher has this chat

    def _next(self, office, channel: str, chat_id: str) -> Outgoing | None:
        with office.sessions() as s:
            row = outbox.next_for_chat(s, channel, chat_id)
            if row is None or row.next_attempt_at > self.clock():
                return None
            identity = s.scalar(select(CitizenIdentity).where(
                CitizenIdentity.channel == channel, CitizenIdentity.external_id == chat_id))
            if identity is not None and identity.blocked_at is not None:
                self._give_up_chat(office, channel, chat_id, "recipient blocked the bot")
                return None
            if identity is None:  # an officer's chat: their own 24-hour window
                identity = s.scalar(select(OfficerIdentity).where(
                    OfficerIdentity.channel == channel, OfficerIdentity.external_id == chat_id))
            return Outgoing(row.id, row.chat_id, dict(row.payload), row.purpose,
                            identity.last_inbound_at if identity else None)

    def _drain(self, office, channel: str, chat_id: str, most: int = 50, patient: bool = False) -> int:
        sender = self.senders(office.id)[channel]
        chat_interval, per_second = self._limit(office, channel)
        scope = channel if office.id == FIRST_OFFICE else f"{channel}-{office.id}"  # one bot, one number
        done = 0
        while done < most:
            message = self._next(office, channel, chat_id)
            if message is None:
                return done
            wait, why = self.limiter.check(scope, chat_id, chat_interval, per_second)
            if (why == "chat" and not patient) or wait > self.max_wait:
                return done  # other chats go first; this one's row keeps its place
            if wait > 0:  # the provider's per-second cap: wait it out
                self.sleep(wait)
                continue
            result = sender.send(message)
            self._record(office, channel, chat_id, message, result)
            done += 1
            if result.status not in (SENT, HELD):
                return done  # a retry keeps its place; later rows wait behind it
        return done

    def _record(self, office, channel: str, chat_id: str, message: Outgoing, result: SendResult) -> None:
        now = self.clock()
        with office.transaction() as s:
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
                notify.held_for_officer(s, office.officers.office, channel, chat_id, now)
            else:
                outbox.mark_failed(row, result.error or "failed", now)
        if result.status == FAILED and (result.error or "").startswith("undeliverable"):
            self._give_up_chat(office, channel, chat_id, result.error)
        log.info("outbox %s row %s: %s", channel, message.id, result.status)  # no texts: they may hold numbers

    def _give_up_chat(self, office, channel: str, chat_id: str, reason: str) -> None:
        """The recipient cannot be reached: stop, and say why on every waiting row."""
        now = self.clock()
        with office.transaction() as s:
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
    look again at once (for the dispatcher: the fetcher looks at its own pace)."""

    def __init__(self, dispatcher: Dispatcher, fetcher=None, housekeeping=None, idle: float = 1.0,
                 files_every: float = 1.0):
        self.dispatcher, self.fetcher, self.idle, self.files_every = dispatcher, fetcher, idle, files_every
        self.jobs = [j for j in (dispatcher.run_once, fetcher and self._fetch,
                                 housekeeping and housekeeping.run_once) if j is not None]
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._files_at, self._files_found = float("-inf"), False

    def _fetch(self) -> int:
        """The fetcher, when its last look found files or `files_every` seconds have gone
        by: the loop is woken for every handled message's replies, and a look for files
        (a query, and the web chat's holding folder swept) each time was a fifth to a
        quarter of a worker's busy time during a flood (py-spy, bench/offices.py). A
        citizen's file is fetched within a second or two."""
        if not self._files_found and time.monotonic() - self._files_at < self.files_every:
            return 0
        self._files_at = time.monotonic()
        found = self.fetcher.run_once()
        self._files_found = found > 0
        return found

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
