"""Everything a process needs, built once from the settings: the database, Redis, the
loops, and one composed office per office (bot.office_runtime).

The deployment serves every office: webhooks find theirs by path, by the WhatsApp `To`
number or by the web chat's address (`office_for_*`); the inbound and outbound loops and
the scheduler read across offices and then work in each office's own sessions. What
the first office's runtime holds is also reachable here (`workflow`, `cases`,
`conversation`, ...): the single-office tools and the tests speak to it this way;
nothing that serves several offices may.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import timedelta
from functools import cached_property
from pathlib import Path

import redis

from bot import logs
from bot.attachments import AttachmentFetcher
from bot.channels.webchat import UploadStore
from bot.config import Settings
from bot.files import FileLinks, base_url
from bot.inbound import InboundLoop
from bot.logs import secrets_of
from bot.office_runtime import OfficeRuntime
from bot.offices import office_settings, whatsapp_number
from bot.outbound import Dispatcher, Housekeeping, OutboundLoop
from bot.worker import enqueue_drain, rq_connection
from flows.workflow import Workflow
from storage.base import FIRST_OFFICE
from storage.db import make_engine, make_sessionmaker, transaction
from storage.limits import MessageRate
from storage.migrate import is_current
from storage.models import utcnow
from storage.offices import list_offices
from storage.redis_store import MEMORY_URL, Nudges, connect

log = logging.getLogger(__name__)
ACK_POOL = 16  # connections the webhooks keep at least (gunicorn's threads are not in the settings)
RELOAD_EVERY = 5.0  # seconds: an unknown office code or number looks at the table again at most this often


class Runtime:
    def __init__(self, settings: Settings, clock=utcnow):
        self.settings = settings
        self.clock = clock  # tests drive time through this
        self._offices: dict[int, OfficeRuntime] = {FIRST_OFFICE: OfficeRuntime(self, FIRST_OFFICE, None, settings)}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()
        self._workflows: dict[str, Workflow] = {}
        # tells this deployment's loops in another process of it (`aduan run`'s loops
        # process: bot.embedded_loops) that a message was stored or outbox rows written
        self.loops_elsewhere = None

    # -- shared -------------------------------------------------------------------------
    @cached_property
    def engine(self):
        return make_engine(self.settings.database.url)

    @cached_property
    def ack_engine(self):
        """The engine the webhooks store with: one statement, so on PostgreSQL it runs in
        autocommit (the INSERT is its own transaction, committed when it returns: one round
        trip instead of BEGIN, INSERT, COMMIT). A pool of its own, its connections set up so
        once (switching a pooled connection to autocommit and back costs round trips).
        Its pool keeps a connection for each of a web process's threads: with fewer, the
        threads beyond the pool's size connected anew for every request (a new backend
        each time, more than the INSERT itself)."""
        if self.engine.dialect.name == "postgresql":
            threads = max(self.settings.server.threads, ACK_POOL)
            return make_engine(self.settings.database.url, isolation_level="AUTOCOMMIT", pool_size=threads,
                               max_overflow=threads)
        return self.engine

    @cached_property
    def sessions(self):
        """Sessions across offices (the deployment's loops, the tests); an office's own
        work uses that office's sessions."""
        return make_sessionmaker(self.engine)

    def transaction(self):
        return transaction(self.sessions)

    @cached_property
    def redis(self):
        return connect(self.settings.redis.url)

    def workflow_named(self, preset: str) -> Workflow:
        """A workflow, loaded once and shared by every office that runs it."""
        with self._lock:
            if preset not in self._workflows:
                from flows.presets import load_workflow

                self._workflows[preset] = load_workflow(preset)
            return self._workflows[preset]

    # -- the offices ----------------------------------------------------------------------
    @property
    def default(self) -> OfficeRuntime:
        """The first office: the config file's own, served at the addresses without an
        office in them (/webhooks/telegram, /)."""
        return self._offices[FIRST_OFFICE]

    def offices(self) -> list[OfficeRuntime]:
        """Every office, in the order they were added (one added since is seen within
        RELOAD_EVERY seconds)."""
        self._load(again=True)
        return [self._offices[i] for i in sorted(self._offices)]

    def office(self, office_id: int) -> OfficeRuntime | None:
        if office_id not in self._offices:
            self._load(again=True)
        return self._offices.get(office_id)

    def office_by_code(self, code: str) -> OfficeRuntime | None:
        code = (code or "").lower()
        for again in (False, True):
            self._load(again=again)
            found = next((o for o in self._offices.values() if o._code == code), None)
            if found is not None:
                return found
        return None

    def office_for_whatsapp(self, to: str | None) -> OfficeRuntime | None:
        """The office whose WhatsApp sender a message was sent to (Twilio's `To`)."""
        number = whatsapp_number(to)
        for again in (False, True):
            self._load(again=again)
            found = next((o for o in self._offices.values() if number and o.whatsapp_number == number), None)
            if found is not None:
                return found
        return None

    def office_for_host(self, host: str | None) -> OfficeRuntime | None:
        """The office whose web chat has this host name of its own."""
        host = (host or "").lower()
        self._load()
        return next((o for o in self._offices.values() if host and o.settings.webchat.host == host), None)

    def office_code(self, office_id: int) -> str:
        self._load(again=True)
        return self._offices[office_id]._code or "utama"

    def _load(self, again: bool = False) -> None:
        """Read the offices' rows: once, and `again` (an unknown code or number) at most every
        RELOAD_EVERY seconds, so a flood of unknown ones costs no more than that. An office
        already built keeps its runtime (settings are read when the process starts)."""
        with self._lock:
            if self._loaded_at is not None and (not again or time.monotonic() - self._loaded_at < RELOAD_EVERY):
                return
            self._loaded_at = time.monotonic()
            with self.sessions() as s:
                rows = list_offices(s)
            for row in rows:
                known = self._offices.get(row.id)
                if known is not None:
                    known._code = known._code or row.code
                    known.parent_id = row.parent_id
                    continue
                office = OfficeRuntime(self, row.id, row.code,
                                       office_settings(self.settings, row.code, row.settings or {}), row.parent_id)
                logs.REDACT.add(*secrets_of(office))  # its own bot token is never in a log line
                self._offices[row.id] = office

    # -- what the first office holds, for single-office tools and the tests -------------
    @property
    def workflow(self):
        return self.default.workflow

    @property
    def calendar(self):
        return self.default.calendar

    @property
    def cases(self):
        return self.default.cases

    @property
    def conversation(self):
        return self.default.conversation

    @property
    def officers(self):
        return self.default.officers

    @property
    def senders(self) -> dict:
        return self.default.senders

    @property
    def quota(self):
        return self.default.quota

    def admit(self, channel: str, chat_id: str):
        return self.default.admit(channel, chat_id)

    def receive(self, channel: str, provider_id: str, inbound, raw: dict) -> bool:
        return self.default.receive(channel, provider_id, inbound, raw)

    def record_delivery_status(self, channel, provider_message_id, status, error_code) -> None:
        self.default.record_delivery_status(channel, provider_message_id, status, error_code)

    def fetch_webchat(self, chat_id: str, after: int) -> list[dict]:
        return self.default.fetch_webchat(chat_id, after)

    # -- limits shared by the offices -----------------------------------------------------
    @cached_property
    def message_rate(self) -> MessageRate:
        # Per browser (a web chat id is random, whatever office it is of).
        return MessageRate(self.redis, self.settings.webchat.messages_per_second, self.settings.webchat.message_burst)

    # -- the loops --------------------------------------------------------------------------
    @cached_property
    def inbound(self) -> InboundLoop:
        inbound = self.settings.inbound
        loop = InboundLoop(self, max_tries=inbound.max_tries, idle=inbound.poll_seconds, batch=inbound.batch)
        if self.settings.redis.url != MEMORY_URL:  # web processes of their own may store: hear them
            loop.nudges = self.nudges
        return loop

    @cached_property
    def nudges(self) -> Nudges:
        return Nudges(self.redis)

    def wake_inbound(self, office_id: int = 0) -> None:
        """A message of this office was stored: this process's loop, or a worker, starts on
        it at once."""
        if "inbound" in self.__dict__ and self.inbound.running:
            self.inbound.wake(office_id)
        elif self.loops_elsewhere is not None:
            self.loops_elsewhere("inbound")
        elif self.settings.redis.url != MEMORY_URL:
            self.nudges.push(office_id)

    @cached_property
    def file_links(self) -> FileLinks:
        """Signed, expiring links to citizens' files, for officers on WhatsApp and the web chat."""
        s = self.settings
        return FileLinks(self.secret_key(), base_url(s.server.public_url, s.whatsapp.public_url),
                         timedelta(hours=s.server.file_link_hours), lambda: self.clock())

    def senders_by_office(self) -> dict[int, dict]:
        """{office id: {channel: sender}} of every office with a channel to send on."""
        return {o.id: o.senders for o in self.offices() if o.senders}

    @cached_property
    def outbound(self) -> OutboundLoop:
        # The web chat's uploads go through the same fetcher: from their holding place into
        # the case's folder, once the complaint is filed.
        fetcher = AttachmentFetcher(self, self._fetch_sources, Path(self.settings.intake.attachments_dir),
                                    self.settings.intake.max_attachment_mb * 1024 * 1024)
        return OutboundLoop(Dispatcher(self, self.senders_by_office, clock=self.clock), fetcher, Housekeeping(self))

    def _fetch_sources(self) -> dict[int, dict]:
        return {o.id: (dict(o.senders, webchat=self.uploads) if o.settings.webchat.enabled else o.senders)
                for o in self.offices()}

    @cached_property
    def uploads(self) -> UploadStore:
        s = self.settings
        return UploadStore(Path(s.intake.attachments_dir) / "uploads", timedelta(hours=2 * s.intake.expire_hours))

    def wake_all(self) -> None:
        """The scheduler wrote outbox rows for many chats: look at all of them."""
        if "outbound" in self.__dict__ and self.outbound.running:
            self.outbound.wake()
        elif self.loops_elsewhere is not None:
            self.loops_elsewhere("outbound")

    @cached_property
    def scheduler(self):
        from bot.scheduler import Scheduler

        return Scheduler(self, tick_seconds=self.settings.scheduler.tick_seconds)

    def wake_outbound(self, office_id: int, channel: str, chat_id: str) -> None:
        """New outbox rows: nudge this process's loop, or the workers through RQ."""
        if "outbound" in self.__dict__ and self.outbound.running:
            self.outbound.wake()
            return
        if self.loops_elsewhere is not None:
            self.loops_elsewhere("outbound")
            return
        office = self.office(office_id)
        if office is not None and channel in office.senders and self.settings.redis.url != MEMORY_URL:
            try:
                enqueue_drain(self.rq_connection, office_id, channel, chat_id)
            except redis.RedisError:  # the rows are stored; the workers' sweep sends them
                log.warning("could not queue the outbound job; the sweep will send it")

    @cached_property
    def rq_connection(self):
        return rq_connection(self.settings.redis.url)

    def secret_key(self) -> str:
        """Signs web chat cookies: the configured key, else one made once and kept in var/."""
        configured = self.settings.webchat.secret_key
        if configured is not None:
            return configured.get_secret_value()
        path = Path("var") / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def schema_is_current(self) -> bool:
        return is_current(self.engine)

    def after_fork(self) -> None:
        """In a process forked from this one (gunicorn's worker of `aduan run`): the
        parent's database connections stay the parent's, and its senders, whose event loop
        threads did not survive the fork, are built again here when first needed."""
        for name in ("ack_engine", "engine"):
            if name in self.__dict__:
                self.__dict__[name].dispose(close=False)
        for office in self._offices.values():
            office.__dict__.pop("senders", None)

    def close(self) -> None:
        if "inbound" in self.__dict__:
            self.inbound.stop()
        if "scheduler" in self.__dict__:
            self.scheduler.stop()
        if "outbound" in self.__dict__:
            self.outbound.stop()
        for office in self._offices.values():
            office.close()
        if "ack_engine" in self.__dict__ and self.ack_engine is not self.engine:
            self.ack_engine.dispose()
        if "engine" in self.__dict__:
            self.engine.dispose()
