"""Email: follow-ups to citizens who gave an address, through the office's SMTP relay.

Out only (nobody chats by email): an outbox row with channel "email" and the address as
chat id becomes one multipart/alternative message (plain text + HTML) with the ticket in
the subject. Buttons cannot be pressed in an email, so they become text: where to answer
(the chat the case came from) and how to check the case from anywhere (/status TICKET
CODE). The handler puts what the renderer needs in `payload["meta"]`: the ticket, the
citizen's language and the chat channel they can answer on.

Addresses and texts never reach a log line or the row's error (a refusal from the relay
often quotes the address): only SMTP codes and exception types.
"""
from __future__ import annotations

import html
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from bot.channels.base import FAILED, RETRY, SENT, Outgoing, SendResult
from flows.i18n import t

log = logging.getLogger(__name__)
CHANNEL = "email"
RETRY_DELAY = 60.0  # a relay's 4xx ("try again later") or the network
CONFIG_DELAY = 300.0  # the relay refused our login: an operator has to fix the settings
_LOGIN_CODES = {530, 534, 535, 538}


def _channel_list(lang: str, channels: tuple[str, ...], web_url: str | None) -> str:
    names = []
    for c in channels:
        name = t(lang, f"email.via.{c}")
        names.append(f"{name} ({web_url})" if c == "webchat" and web_url else name)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + t(lang, "email.or") + names[-1]


def render(payload: dict, office: str, channels: tuple[str, ...], contacts: str = "",
           web_url: str | None = None) -> tuple[str, list[str]]:
    """(subject, paragraphs) of one email; each paragraph is plain text (lines joined by \\n)."""
    meta = payload.get("meta") or {}
    lang, ticket = meta.get("lang", "id"), meta.get("ticket", "")
    subject = t(lang, "email.subject", ticket=ticket, office=office) if ticket else office
    paragraphs = [payload["text"]]
    options = [b["label"] for row in payload.get("buttons", []) for b in row]
    if options or meta.get("wants_reply"):  # buttons cannot be pressed here: say where
        where = meta.get("reply_on")
        if where is None:
            head = t(lang, "email.answer_office", contacts=contacts or office)
        else:
            head = t(lang, "email.answer_in" if options else "email.reply_in",
                     where=t(lang, f"email.where.{where}"), ticket=ticket)
        paragraphs.append("\n".join([head] + [f"• {label}" for label in options]))
    if ticket:
        if channels and meta.get("has_code"):
            paragraphs.append(t(lang, "email.status_hint", ticket=ticket,
                                channels=_channel_list(lang, channels, web_url)))
        paragraphs.append(t(lang, "email.footer", office=office, ticket=ticket))
    return subject, paragraphs


def _html(subject: str, paragraphs: list[str], web_url: str | None = None) -> str:
    body = "\n".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    if web_url:  # the office's own address (settings), never a link out of a citizen's text
        url = html.escape(web_url)
        body = body.replace(f"({url})", f'(<a href="{url}">{url}</a>)')
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(subject)}</title></head>'
            f'<body style="font-family:sans-serif;line-height:1.5">{body}</body></html>')


class EmailSender:
    channel = CHANNEL

    def __init__(self, *, host: str, port: int, security: str, from_address: str, from_name: str,
                 username: str | None = None, password: str | None = None, reply_to: str | None = None,
                 timeout: float = 30.0, ca_file: str | None = None, channels: tuple[str, ...] = (),
                 contacts: str = "", web_url: str | None = None):
        self.host, self.port, self.security = host, port, security
        self.from_address, self.from_name, self.reply_to = from_address, from_name, reply_to
        self.username, self.password, self.timeout = username, password, timeout
        self.ca_file, self.channels, self.contacts, self.web_url = ca_file, channels, contacts, web_url
        self.domain = from_address.rpartition("@")[2]

    def compose(self, message: Outgoing) -> EmailMessage:
        subject, paragraphs = render(message.payload, self.from_name, self.channels, self.contacts,
                                     self.web_url)
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = formataddr((self.from_name, self.from_address))
        msg["To"] = message.chat_id
        if self.reply_to:
            msg["Reply-To"] = self.reply_to
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(f"aduan.{message.id}", domain=self.domain)
        ticket = (message.payload.get("meta") or {}).get("ticket")
        if ticket:  # mail clients thread a case's emails together
            msg["References"] = f"<{ticket.lower()}@{self.domain}>"
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to us
        msg.set_content("\n\n".join(paragraphs))
        msg.add_alternative(_html(subject, paragraphs, self.web_url), subtype="html")
        return msg

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.starttls(context=self._tls())  # refuses to go on in the clear
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: Outgoing) -> SendResult:
        try:
            msg = self.compose(message)
        except (ValueError, TypeError) as exc:  # an address the headers cannot carry: never will
            return SendResult(FAILED, error=f"email: cannot compose: {type(exc).__name__}")
        try:
            smtp = self._connect()
        except smtplib.SMTPNotSupportedError:
            log.warning("email: the relay does not offer STARTTLS; check [email] security")
            return SendResult(RETRY, delay=CONFIG_DELAY, error="smtp: STARTTLS not offered")
        except smtplib.SMTPResponseException as exc:
            return self._refused(exc.smtp_code)
        except (smtplib.SMTPException, OSError) as exc:  # refused, timed out, TLS trouble
            return SendResult(RETRY, delay=RETRY_DELAY, error=f"smtp connection: {type(exc).__name__}")
        try:
            if self.username:
                try:
                    smtp.login(self.username, self.password or "")
                except smtplib.SMTPNotSupportedError:
                    log.warning("email: the relay offers no login; check [email] username and security")
                    return SendResult(RETRY, delay=CONFIG_DELAY, error="smtp: AUTH not offered")
            smtp.send_message(msg)
        except smtplib.SMTPNotSupportedError:  # a non-ASCII address and a relay without SMTPUTF8
            return SendResult(FAILED, error="smtp: the relay cannot take this address (SMTPUTF8)")
        except smtplib.SMTPRecipientsRefused as exc:  # the only recipient: its code, not its address
            codes = [code for code, _ in exc.recipients.values()]
            return self._refused(codes[0] if codes else 550)
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, login refused
            return self._refused(exc.smtp_code)
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult(RETRY, delay=RETRY_DELAY, error=f"smtp: {type(exc).__name__}")
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):  # the message is in (or not) already
                smtp.close()
        return SendResult(SENT, provider_message_id=msg["Message-ID"][:100])

    def _refused(self, code: int) -> SendResult:
        if code in _LOGIN_CODES:
            log.warning("email: the relay refused the login (%s); check [email] username/password", code)
            return SendResult(RETRY, delay=CONFIG_DELAY, error=f"smtp {code}: login refused")
        if 400 <= code < 500:
            return SendResult(RETRY, delay=RETRY_DELAY, error=f"smtp {code}")
        return SendResult(FAILED, error=f"smtp {code}: refused")

    def close(self) -> None:
        pass  # one connection per message: nothing stays open
