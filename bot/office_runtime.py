"""One office, composed once from its settings: its workflow, calendar, conversations and
senders, and sessions that see only its rows (storage.scoping).

An `OfficeRuntime` answers what office-level code asks of a runtime (settings, workflow,
calendar, cases, conversation, officers, transaction(), sessions(), clock), so reports,
digests, the scheduler's work and the CLI commands run for one office with the office's
runtime in hand; the deployment's `Runtime` holds what the offices share (the database,
Redis, the inbound and outbound loops, the scheduler) and one of these per office.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels.email import EmailSender
from bot.channels.telegram import TelegramSender
from bot.channels.whatsapp import WhatsAppSender
from bot.config import Settings
from bot.files import base_url
from bot.offices import whatsapp_number
from flows.calendar import OfficeCalendar
from flows.messages import Inbound
from flows.workflow import Workflow
from handlers.citizen import CitizenConversation
from handlers.office import Office
from handlers.officer import OfficerConversation
from storage import acknowledgements
from storage.base import FIRST_OFFICE
from storage.cases import CaseService
from storage.db import transaction
from storage.limits import MessageRate, Refused, SubmissionQuota
from storage.models import Outbox
from storage.outbox import FAILED, PENDING, by_provider_id, mark_sent
from storage.scoping import office_sessions


class OfficeRuntime:
    def __init__(self, deployment, office_id: int, code: str | None, settings: Settings,
                 parent_id: int | None = None):
        self.deployment, self.id, self._code, self.settings = deployment, office_id, code, settings
        self.parent_id = parent_id

    def __repr__(self) -> str:
        return f"<office {self.id} {self._code or ''}>"

    @property
    def code(self) -> str:
        if self._code is None:  # the first office, built before its row was read
            self._code = self.deployment.office_code(self.id)
        return self._code

    # -- what is shared, reached through the deployment ----------------------------------
    @property
    def clock(self):
        return self.deployment.clock

    @property
    def engine(self):
        return self.deployment.engine

    @property
    def redis(self):
        return self.deployment.redis

    # -- this office's data ---------------------------------------------------------------
    @cached_property
    def sessions(self):
        """Sessions that see and write this office's rows only."""
        return office_sessions(self.engine, self.id)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    @cached_property
    def workflow(self) -> Workflow:
        return self.deployment.workflow_named(self.settings.workflow.preset)

    @cached_property
    def calendar(self) -> OfficeCalendar:
        return self.settings.calendar(self.workflow)

    @cached_property
    def cases(self) -> CaseService:
        return CaseService(self.workflow, self.calendar,
                           categories=self.settings.effective_categories(self.workflow),
                           ticket_prefix=self.settings.office.ticket_prefix)

    # -- the conversation -----------------------------------------------------------------
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
            cookie_channels=frozenset({"webchat"}), backoffice_url=self.backoffice_url,
            sign_in_ttl=timedelta(minutes=s.backoffice.sign_in_minutes))
        return CitizenConversation(office, s.telegram.officer_group_chat_id)

    @property
    def backoffice_url(self) -> str | None:
        """The back office's address (bot.backoffice): absolute under server.public_url,
        else only its path; None when it is off."""
        if not self.settings.backoffice.enabled:
            return None
        path = "/kantor" if self.id == FIRST_OFFICE else f"/o/{self.code}/kantor"
        return base_url(self.settings.server.public_url, self.settings.whatsapp.public_url) + path

    @cached_property
    def officers(self) -> OfficerConversation:
        return OfficerConversation(self.conversation.office, self.settings.telegram.officer_group_chat_id)

    # -- abuse limits (the web chat: anyone can post there, nothing proves who) -----------
    @property
    def _limits_prefix(self) -> str:
        return "aduan" if self.id == FIRST_OFFICE else f"aduan:o{self.id}"

    @cached_property
    def quota(self) -> SubmissionQuota:
        w = self.settings.webchat
        return SubmissionQuota(self.redis, frozenset({"webchat"}), w.complaints_per_visitor_hour,
                               w.complaints_per_ip_hour, prefix=self._limits_prefix,
                               clock=lambda: self.clock().timestamp())

    @cached_property
    def survey_quota(self) -> SubmissionQuota:
        # Per address only in effect: a browser answers once a service a day anyway.
        per_ip = self.settings.survey.responses_per_ip_hour
        return SubmissionQuota(self.redis, frozenset({"webchat"}), per_ip, per_ip,
                               prefix=f"{self._limits_prefix}:survey", clock=lambda: self.clock().timestamp())

    @cached_property
    def message_rate(self) -> MessageRate:
        return self.deployment.message_rate

    def admit(self, channel: str, chat_id: str) -> Refused | None:
        """May this message from `chat_id` come in? None, or how long to wait (then nothing
        of it is stored). Complaints are counted later, where one is filed."""
        wait = self.message_rate.wait(channel, chat_id)
        return Refused(wait) if wait > 0 else None

    # -- in -------------------------------------------------------------------------------
    def receive(self, channel: str, provider_id: str, inbound: Inbound | None, raw: dict) -> bool:
        """Acknowledge one delivery: store it in one statement and commit (then a 2xx is
        safe: it will be handled exactly once, by this process's inbound loop or a worker's).
        False when it was a repeat. `raw` (the provider's payload) is never stored."""
        new = acknowledgements.store(self.deployment.ack_engine, self.id, channel, provider_id, inbound, self.clock())
        if new and inbound is not None:
            self.deployment.wake_inbound(self.id)
        return new

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

    @property
    def file_links(self):
        return self.deployment.file_links

    @property
    def uploads(self):
        return self.deployment.uploads

    def secret_key(self) -> str:
        return self.deployment.secret_key()

    def wake_outbound(self, channel: str, chat_id: str) -> None:
        self.deployment.wake_outbound(self.id, channel, chat_id)

    # -- out ------------------------------------------------------------------------------
    @cached_property
    def senders(self) -> dict:
        """A sender for every channel of this office that has credentials."""
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

    @property
    def whatsapp_number(self) -> str | None:
        return whatsapp_number(self.settings.whatsapp.from_number)

    def close(self) -> None:
        for sender in self.__dict__.get("senders", {}).values():
            sender.close()
