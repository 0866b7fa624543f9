"""Settings: a TOML file validated into typed sections, with secrets from the environment.

Where the file comes from: `--config PATH`, else `$ADUAN_CONFIG`, else `./config.toml`
if it exists, else the embedded defaults (which run: SQLite under var/ and in-process
Redis). Any scalar key can be set from the environment as ADUAN_<SECTION>_<KEY>, e.g.
ADUAN_TELEGRAM_TOKEN or ADUAN_DATABASE_URL; that is how secrets stay out of the file.
A bad value stops start-up with a ConfigError that names the key and what is wrong.
"""
from __future__ import annotations

import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import (Field, PrivateAttr, SecretStr, ValidationError,
                      field_validator, model_validator)
from sqlalchemy.engine import make_url

from bot.config_sections import BackofficeSettings, _Section
from flows.calendar import OfficeCalendar, parse_week
from flows.errors import CalendarError
from flows.presets import DEFAULT_PRESET, load_workflow
from flows.workflow import CategoryDef, Workflow, key_path

DEFAULT_PATH = "config.toml"


class ConfigError(Exception):
    """A configuration problem; the message names the file and the key."""


class OfficeSettings(_Section):
    name: str = "Aduan"
    timezone: str | None = None  # default: the workflow's, else Asia/Jakarta
    hours: dict[str, str] | None = None  # default: the workflow's, else civil-service hours
    extra_days_off: dict[date, str] = {}  # a list of dates is accepted too
    default_language: Literal["id", "en"] = "id"
    ticket_prefix: str = Field("ADU", pattern=r"^[A-Z]{2,6}$")
    contacts: str = ""
    service_pledge: str = ""  # Maklumat Pelayanan, published to citizens
    # The reports' signature block: "Sorong, 2 Mei 2025 / Kepala BPS Kota Sorong / name / NIP".
    # Without them: the date alone, the workflow's leadership role, a line to sign on.
    city: str = Field("", max_length=100)
    head_title: str = Field("", max_length=200)
    head_name: str = Field("", max_length=200)
    head_nip: str = Field("", max_length=40)

    @field_validator("extra_days_off", mode="before")
    @classmethod
    def _days_off(cls, v):
        if isinstance(v, list):
            return {d: "hari libur kantor" for d in v}
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v):
        if v is not None:
            try:
                OfficeCalendar(v)
            except CalendarError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("hours")
    @classmethod
    def _hours(cls, v):
        if v is not None:
            try:
                parse_week(v)
            except CalendarError as exc:
                raise ValueError(str(exc)) from None
        return v


class IntakeSettings(_Section):
    expire_hours: int = Field(24, ge=1, le=24 * 30)  # a half-filled complaint is dropped after
    min_text: int = Field(10, ge=1, le=1000)
    max_text: int = Field(8000, ge=100, le=8000)
    max_attachments: int = Field(5, ge=0, le=20)
    max_attachment_mb: int = Field(10, ge=1, le=50)
    attachments_dir: str = "var/attachments"  # where the worker keeps fetched files


class PrivacySettings(_Section):
    retention_years: int = Field(5, ge=1, le=30)  # told to citizens before they consent
    # Days after delivery the texts of outgoing messages are kept (support: "what did the
    # bot tell me?"); then only their buttons stay, for what a typed "1" answers.
    outbox_text_days: int = Field(30, ge=1, le=366)


class DatabaseSettings(_Section):
    url: str = "sqlite:///var/aduan.db"

    @field_validator("url")
    @classmethod
    def _url(cls, v):
        try:
            backend = make_url(v).get_backend_name()
        except Exception:
            raise ValueError(f"not a database URL: {v!r}") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"{backend!r} is not supported; use sqlite:/// or postgresql+psycopg://")
        return v


class RedisSettings(_Section):
    url: str = "memory://"

    @field_validator("url")
    @classmethod
    def _url(cls, v):
        if v != "memory://" and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("use memory:// (in-process) or a redis:// URL")
        return v


class WorkflowSettings(_Section):
    preset: str = DEFAULT_PRESET  # a preset name or the path of a workflow TOML file


class TelegramSettings(_Section):
    token: SecretStr | None = None
    secret_token: SecretStr | None = None
    api_base_url: str = "https://api.telegram.org"
    officer_group_chat_id: int | None = None

    @field_validator("secret_token")
    @classmethod
    def _secret(cls, v):
        # Telegram allows 1-256 characters of A-Z, a-z, 0-9, _ and -.
        if v is not None:
            s = v.get_secret_value()
            if not (1 <= len(s) <= 256 and all(c.isalnum() or c in "_-" for c in s)):
                raise ValueError("1-256 characters, only letters, digits, '_' and '-'")
        return v


class WhatsAppSettings(_Section):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = Field(None, pattern=r"^(whatsapp:)?\+[1-9]\d{6,14}$")
    public_url: str | None = None  # the webhook URL exactly as Twilio calls it
    api_base_url: str = "https://api.twilio.com"
    templates: dict[str, str] = {}  # purpose -> approved Content SID (HX...)
    messages_per_second: int = Field(10, ge=1, le=400)  # the sender's Twilio rate


class WebchatSettings(_Section):
    enabled: bool = True
    title: str = ""  # default: the office name
    # An office's own host name for its web chat (aduan.kotasorong.go.id), besides /o/<office>/.
    host: str | None = Field(None, pattern=r"^[a-z0-9.-]+(:\d+)?$", max_length=253)
    secret_key: SecretStr | None = None  # signs visitor cookies
    # Abuse limits (counted in Redis, so every web process counts against the same ones):
    # filed complaints per browser and per client address in any hour (a school or an office
    # behind one address shares the second), and messages per second per browser.
    complaints_per_visitor_hour: int = Field(3, ge=1, le=1000)
    complaints_per_ip_hour: int = Field(10, ge=1, le=10000)
    messages_per_second: float = Field(2.0, gt=0, le=10000)
    message_burst: int = Field(5, ge=1, le=10000)
    session_days: int = Field(7, ge=1, le=90)  # a visitor unseen this long starts afresh


class EmailSettings(_Section):
    """SMTP for follow-ups to citizens who gave an email (off while host or from_address is unset)."""

    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)  # default: 587 starttls, 465 ssl, 25 none
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str | None = None
    from_name: str = ""  # default: the office name
    reply_to: str | None = None  # where a citizen's reply to an email goes (the office's mailbox)
    timeout: float = Field(30.0, gt=0, le=300)
    ca_file: str | None = None  # a private CA for the relay's certificate (else the system's)
    web_url: str | None = None  # the web chat's public address, shown in emails

    @field_validator("from_address", "reply_to")
    @classmethod
    def _address(cls, v):
        if v is not None:
            from email_validator import EmailNotValidError, validate_email

            try:
                return validate_email(v, check_deliverability=False).normalized
            except EmailNotValidError as exc:
                raise ValueError(str(exc)) from None
        return v

    @model_validator(mode="after")
    def _complete(self):
        if self.host and not self.from_address:
            raise ValueError("email.host is set but email.from_address is not")
        if (self.username is None) != (self.password is None):
            raise ValueError("give both email.username and email.password, or neither")
        return self

    @property
    def configured(self) -> bool:
        return bool(self.host and self.from_address)

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]


class SurveySettings(_Section):
    # The satisfaction survey (SKM, PermenPAN-RB 14/2017): /survei for any service user,
    # and after a rating. Unset: as the workflow preset says (on in pst-sorong).
    skm: bool | None = None
    # The categories that are services a respondent rates. Unset: the preset's.
    services: list[str] | None = None
    # New survey responses from one client address of the web chat in an hour (anyone
    # can post there; a new browser is a new respondent).
    responses_per_ip_hour: int = Field(30, ge=1, le=10_000)


class DigestSettings(_Section):
    daily_time: str = Field("07:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # office time, working days
    weekly_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    weekly_time: str = Field("08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    reports_dir: str = "var/reports"  # where the monthly reports are kept


class SchedulerSettings(_Section):
    tick_seconds: float = Field(30.0, ge=1.0, le=3600.0)  # how often due deadlines are looked for


class InboundSettings(_Section):
    # A message whose handling fails this many times is set aside (the coordinators are
    # told) so that its chat's later messages are handled.
    max_tries: int = Field(5, ge=1, le=100)
    # How often an idle worker looks for stored messages another process acknowledged
    # (a message acknowledged by this same process wakes it at once).
    poll_seconds: float = Field(0.2, ge=0.01, le=10.0)
    # Up to this many chats of one office are handled in one transaction (fewer round
    # trips and commits; a failure redoes them one by one). 1: one transaction a message.
    batch: int = Field(8, ge=1, le=20)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    threads: int = Field(8, ge=1, le=256)
    # Where people reach Aduan (scheme and host, e.g. https://aduan.contoh.go.id): the base of
    # the attachment links officers get on WhatsApp and the web chat.
    public_url: str | None = Field(None, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")
    file_link_hours: int = Field(24, ge=1, le=24 * 30)  # how long such a link opens the file
    # The largest request body the server takes (the web chat's uploads are the only big
    # ones): refused from its Content-Length before a byte is read, and a chunked one is
    # answered 413 at the limit (bot.app: Flask's MAX_CONTENT_LENGTH and its own checks).
    max_body_mb: int = Field(12, ge=1, le=100)
    # Reverse proxies in front of Aduan that set X-Forwarded-For/-Proto/-Host (0: none). Only
    # then are the client address (abuse limits) and https (Secure cookies) taken from them:
    # trusting those headers without a proxy lets any client claim any address.
    proxies: int = Field(0, ge=0, le=5)


class Settings(_Section):
    office: OfficeSettings = OfficeSettings()
    intake: IntakeSettings = IntakeSettings()
    privacy: PrivacySettings = PrivacySettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    workflow: WorkflowSettings = WorkflowSettings()
    categories: list[CategoryDef] = []  # default: the workflow's categories
    telegram: TelegramSettings = TelegramSettings()
    whatsapp: WhatsAppSettings = WhatsAppSettings()
    webchat: WebchatSettings = WebchatSettings()
    email: EmailSettings = EmailSettings()
    survey: SurveySettings = SurveySettings()
    digest: DigestSettings = DigestSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    inbound: InboundSettings = InboundSettings()
    server: ServerSettings = ServerSettings()
    backoffice: BackofficeSettings = BackofficeSettings()
    _source: str = PrivateAttr("(embedded defaults)")

    @model_validator(mode="after")
    def _room_for_uploads(self):
        # A web chat upload of intake.max_attachment_mb comes with its form around it.
        if self.server.max_body_mb <= self.intake.max_attachment_mb:
            raise ValueError(f"server.max_body_mb ({self.server.max_body_mb}) must be above "
                             f"intake.max_attachment_mb ({self.intake.max_attachment_mb}): "
                             "the web chat's uploads must fit in a request")
        return self

    @property
    def source(self) -> str:
        """Where the settings came from, for messages."""
        return self._source

    # -- what the settings resolve to -------------------------------------------------
    def load_workflow(self) -> Workflow:
        return load_workflow(self.workflow.preset)

    def calendar(self, workflow: Workflow) -> OfficeCalendar:
        tz = self.office.timezone or workflow.workflow.timezone or "Asia/Jakarta"
        spec = self.office.hours or workflow.office_hours or None
        return OfficeCalendar(tz, parse_week(spec) if spec else None, self.office.extra_days_off)

    def effective_categories(self, workflow: Workflow) -> tuple[CategoryDef, ...]:
        return tuple(self.categories) or workflow.categories

    def survey_on(self, workflow: Workflow) -> bool:
        return workflow.survey.skm if self.survey.skm is None else self.survey.skm

    def survey_services(self, workflow: Workflow) -> tuple[CategoryDef, ...]:
        """The categories a survey respondent chooses from, in the categories' order."""
        wanted = workflow.survey.services if self.survey.services is None else self.survey.services
        return tuple(c for c in self.effective_categories(workflow) if c.id in wanted)


def _environment_overrides(data: dict) -> dict[tuple[str, str], str]:
    """Apply ADUAN_<SECTION>_<KEY> variables to the sections' keys; return what came from where."""
    used = {}
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, _Section)):
            continue
        for key in model.model_fields:
            name = f"ADUAN_{section}_{key}".upper()
            value = os.environ.get(name)
            if value:  # an empty variable counts as not set
                data.setdefault(section, {})[key] = value
                used[(section, key)] = name
    return used


def resolve_path(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    if env := os.environ.get("ADUAN_CONFIG"):
        return Path(env)
    default = Path(DEFAULT_PATH)
    return default if default.exists() else None


def load_settings(explicit: str | None = None) -> Settings:
    path = resolve_path(explicit)
    data: dict = {}
    source = "(embedded defaults)"
    if path is not None:
        source = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    from_env = _environment_overrides(data)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = from_env.get(tuple(err["loc"][:2]))
        origin = f"{where} (environment)" if where else source
        raise ConfigError(f"{origin}: {key_path(err['loc'])}: {err['msg']}") from None
    settings._source = source
    from bot.config_workflow import check_against_workflow  # it reads these settings' classes

    check_against_workflow(settings)
    return settings
