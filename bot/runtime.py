"""Everything a process needs, built once from the settings: database, Redis, workflow."""
from __future__ import annotations

import logging
import secrets
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Iterator

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.attachments import AttachmentFetcher
from bot.channels.email import EmailSender
from bot.channels.telegram import TelegramSender
from bot.channels.webchat import UploadStore
from bot.channels.whatsapp import WhatsAppSender
from bot.config import Settings
from bot.files import FileLinks, base_url
from bot.inbound import InboundLoop
from bot.outbound import Dispatcher, Housekeeping, OutboundLoop
from flows.calendar import OfficeCalendar
from flows.messages import Inbound
from flows.workflow import Workflow
from handlers.citizen import CitizenConversation
from handlers.officer import OfficerConversation
from handlers.office import Office
from storage import inbound as inbound_queue
from storage.cases import CaseService
from storage.models import Outbox, utcnow
from storage.outbox import FAILED, PENDING, by_provider_id, mark_sent
from storage.limits import MessageRate, Refused, SubmissionQuota
from storage.redis_store import MEMORY_URL
from bot.worker import enqueue_drain, rq_connection
from storage.db import make_engine, make_sessionmaker, transaction
from storage.migrate import is_current
from storage.redis_store import connect


log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, clock=utcnow):
        self.settings = settings
        self.clock = clock  # tests drive time through this

    @cached_property
    def workflow(self) -> Workflow:
        return self.settings.load_workflow()

    @cached_property
    def calendar(self) -> OfficeCalendar:
        return self.settings.calendar(self.workflow)

    @cached_property
    def engine(self):
        return make_engine(self.settings.database.url)

    @cached_property
    def sessions(self):
        return make_sessionmaker(self.engine)

    @cached_property
    def redis(self):
        return connect(self.settings.redis.url)

    @cached_property
    def cases(self) -> CaseService:
        return CaseService(self.workflow, self.calendar,
                           categories=self.settings.effective_categories(self.workflow),
                           ticket_prefix=self.settings.office.ticket_prefix)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    # -- the conversation and the channels ----------------------------------------------
    @cached_property
    def conversation(self) -> CitizenConversation:
        s = self.settings
        office = Office(
            name=s.office.name, contacts=s.office.contacts, service_pledge=s.office.service_pledge,
            default_language=s.office.default_language, cases=self.cases,
            dialog_ttl=timedelta(hours=s.intake.expire_hours), retention_years=s.privacy.retention_years,
            limits={"min_text": s.intake.min_text, "max_text": s.intake.max_text,
                    "max_attachments": s.intake.max_attachments,
                    "max_attachment_bytes": s.intake.max_attachment_mb * 1024 * 1024},
            phone_channel="whatsapp" if s.whatsapp.account_sid else None,
            skm_survey=s.survey_on(self.workflow), survey_services=s.survey_services(self.workflow),
            survey_quota=self.survey_quota, email=s.email.configured, quota=self.quota,
            cookie_channels=frozenset({"webchat"}))
        return CitizenConversation(office, s.telegram.officer_group_chat_id)

    # -- abuse limits (the web chat: anyone can post there, nothing proves who) -----------
    @cached_property
    def quota(self) -> SubmissionQuota:
        w = self.settings.webchat
        return SubmissionQuota(self.redis, frozenset({"webchat"}), w.complaints_per_visitor_hour,
                               w.complaints_per_ip_hour, clock=lambda: self.clock().timestamp())

    @cached_property
    def survey_quota(self) -> SubmissionQuota:
        # Per address only in effect: a browser answers once a service a day anyway.
        per_ip = self.settings.survey.responses_per_ip_hour
        return SubmissionQuota(self.redis, frozenset({"webchat"}), per_ip, per_ip, prefix="aduan:survey",
                               clock=lambda: self.clock().timestamp())

    @cached_property
    def message_rate(self) -> MessageRate:
        return MessageRate(self.redis, self.settings.webchat.messages_per_second, self.settings.webchat.message_burst)

    def admit(self, channel: str, chat_id: str) -> Refused | None:
        """May this message from `chat_id` come in? None, or how long to wait (then nothing
        of it is stored). Complaints are counted later, where one is filed."""
        wait = self.message_rate.wait(channel, chat_id)
        return Refused(wait) if wait > 0 else None

    @cached_property
    def officers(self) -> OfficerConversation:
        return OfficerConversation(self.conversation.office, self.settings.telegram.officer_group_chat_id)

    def receive(self, channel: str, provider_id: str, inbound: Inbound | None, raw: dict) -> bool:
        """Acknowledge one delivery: store it in one statement and commit (then a 2xx is
        safe: it will be handled exactly once, by this process's inbound loop or a worker's).
        False when it was a repeat. `raw` (the provider's payload) is never stored."""
        with self.engine.begin() as conn:
            new = inbound_queue.store(conn, channel, provider_id, inbound, self.clock())
        if new and inbound is not None:
            self.wake_inbound()
        return new

    @cached_property
    def inbound(self) -> InboundLoop:
        return InboundLoop(self, max_tries=self.settings.inbound.max_tries,
                           idle=self.settings.inbound.poll_seconds)

    def wake_inbound(self) -> None:
        if "inbound" in self.__dict__ and self.inbound.running:
            self.inbound.wake()

    def record_delivery_status(self, channel: str, provider_message_id: str, status: str,
                               error_code: str | None) -> None:
        """A provider's delivery report (Twilio MessageStatus) on the outbox row."""
        if not provider_message_id:
            return
        with self.transaction() as s:
            row = by_provider_id(s, channel, None, provider_message_id)  # exactly that id, never a LIKE
            if row is None:
                return
            row.provider_status = status[:30]
            if status in ("failed", "undelivered"):
                row.status = FAILED
                row.error = f"provider reported {status}" + (f" (error {error_code})" if error_code else "")

    def fetch_webchat(self, chat_id: str, after: int) -> list[dict]:
        """A web chat visitor's messages after id `after`; fetching is delivery."""
        now = self.clock()
        with self.transaction() as s:
            rows = s.scalars(select(Outbox).where(Outbox.channel == "webchat", Outbox.chat_id == chat_id,
                                                  Outbox.id > after).order_by(Outbox.id).limit(100)).all()
            for row in rows:
                if row.status == PENDING:
                    mark_sent(row, None, now)
            return [{"id": r.id, "text": r.payload["text"], "buttons": r.payload.get("buttons", []),
                     "links": self.file_links.render(r.payload),
                     "wants_files": bool(r.payload.get("wants_files"))} for r in rows]

    @cached_property
    def file_links(self) -> FileLinks:
        """Signed, expiring links to citizens' files, for officers on WhatsApp and the web chat."""
        s = self.settings
        return FileLinks(self.secret_key(), base_url(s.server.public_url, s.whatsapp.public_url),
                         timedelta(hours=s.server.file_link_hours), lambda: self.clock())

    @cached_property
    def senders(self) -> dict:
        """A sender for every channel that has credentials."""
        s, found = self.settings, {}
        if s.telegram.token is not None:
            found["telegram"] = TelegramSender(s.telegram.token.get_secret_value(), s.telegram.api_base_url)
        wa = s.whatsapp
        if wa.account_sid and wa.auth_token is not None and wa.from_number:
            found["whatsapp"] = WhatsAppSender(wa.account_sid, wa.auth_token.get_secret_value(),
                                               wa.from_number, wa.api_base_url, wa.templates,
                                               status_callback=wa.public_url, clock=lambda: self.clock(),
                                               links=self.file_links)
        if s.email.configured:
            em = s.email
            chats = tuple(c for c, on in (("telegram", s.telegram.token is not None),
                                          ("whatsapp", "whatsapp" in found), ("webchat", s.webchat.enabled)) if on)
            found["email"] = EmailSender(
                host=em.host, port=em.effective_port, security=em.security, from_address=em.from_address,
                from_name=em.from_name or s.office.name, username=em.username,
                password=em.password.get_secret_value() if em.password else None, reply_to=em.reply_to,
                timeout=em.timeout, ca_file=em.ca_file, channels=chats, contacts=s.office.contacts,
                web_url=em.web_url)
        return found

    @cached_property
    def outbound(self) -> OutboundLoop:
        # The web chat's uploads go through the same fetcher: from their holding place into
        # the case's folder, once the complaint is filed.
        sources = dict(self.senders, webchat=self.uploads) if self.settings.webchat.enabled else self.senders
        fetcher = AttachmentFetcher(self, sources, Path(self.settings.intake.attachments_dir),
                                    self.settings.intake.max_attachment_mb * 1024 * 1024)
        return OutboundLoop(Dispatcher(self, self.senders, clock=self.clock), fetcher, Housekeeping(self))

    @cached_property
    def uploads(self) -> UploadStore:
        s = self.settings
        return UploadStore(Path(s.intake.attachments_dir) / "uploads", timedelta(hours=2 * s.intake.expire_hours))

    def wake_all(self) -> None:
        """The scheduler wrote outbox rows for many chats: look at all of them."""
        if "outbound" in self.__dict__ and self.outbound.running:
            self.outbound.wake()

    @cached_property
    def scheduler(self):
        from bot.scheduler import Scheduler

        return Scheduler(self, tick_seconds=self.settings.scheduler.tick_seconds)

    def wake_outbound(self, channel: str, chat_id: str) -> None:
        """New outbox rows: nudge this process's loop, or the workers through RQ."""
        if "outbound" in self.__dict__ and self.outbound.running:
            self.outbound.wake()
        elif channel in self.senders and self.settings.redis.url != MEMORY_URL:
            try:
                enqueue_drain(self.rq_connection, channel, chat_id)
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

    def close(self) -> None:
        if "inbound" in self.__dict__:
            self.inbound.stop()
        if "scheduler" in self.__dict__:
            self.scheduler.stop()
        if "outbound" in self.__dict__:
            self.outbound.stop()
        for sender in self.__dict__.get("senders", {}).values():
            sender.close()
        if "engine" in self.__dict__:
            self.engine.dispose()
