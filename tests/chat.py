"""A test backend in errbot's manner: push a message into a conversation, pop the replies.

It goes through Runtime.receive, the same path a webhook takes after authentication
and parsing, and reads the replies back from the outbox (popping a reply is its
delivery, as the web chat page fetching it is).

It speaks only what the channel's users can send: text and files everywhere; a button
press only where the channel has buttons (Telegram: any keyboard the bot sent to this
chat; the web chat: the newest choices on the page) and only for a button the bot
really sent. WhatsApp has no buttons: type the number or the words. A forged press
(what an attacker's script can post) must say so: `say(button=..., forged=True)`.
"""
from __future__ import annotations

import itertools
import re

from sqlalchemy import select

from flows.messages import Attachment, Inbound
from storage.models import Outbox
from storage.outbox import PENDING, mark_sent

_ids = itertools.count(1)


class Chat:
    def __init__(self, runtime, channel: str = "webchat", chat_id: str = "w-visitor", language_hint=None):
        self.runtime, self.channel, self.chat_id = runtime, channel, chat_id
        self.language_hint = language_hint
        self.seen = 0
        self.history: list[dict] = []  # every payload this chat was given
        self.keyboards: set[str] = set()  # Telegram: every button the bot sent here
        self.newest: set[str] = set()  # the web chat page: the newest choices

    def say(self, text=None, *, button=None, attachments=(), phone=None, event="message",
            message_id=None, forged=False) -> list[str]:
        """Send one message; return the texts of the replies it produced."""
        self.earlier = self.pop()  # what reached this chat before (notifications)
        if button is not None and not forged:
            self._check_press(button)
            self.newest = set()  # the page disables the choices once one is clicked
        inbound = Inbound(self.channel, self.chat_id, message_id or f"m{next(_ids)}", text=text,
                          button=button, attachments=tuple(attachments), phone=phone,
                          language_hint=self.language_hint, event=event)
        self.runtime.receive(self.channel, inbound.provider_message_id, inbound, {"test": True})
        self.last = self.pop()  # the whole payloads (buttons too) of these replies
        return [p["text"] for p in self.last]

    def _check_press(self, payload: str) -> None:
        if self.channel not in ("telegram", "webchat"):
            raise AssertionError(f"{self.channel} users cannot press buttons: type the number or the words")
        offered = self.keyboards if self.channel == "telegram" else self.newest
        if payload not in offered:
            raise AssertionError(f"no button {payload!r} was offered to this {self.channel} chat "
                                 f"(offered: {sorted(offered)})")

    def choose(self, payload: str) -> list[str]:
        """Pick the option with this payload from the newest choices the chat was given, as
        the channel's user does: press its button, or (WhatsApp) type its number."""
        self.pop()
        question = next((p for p in reversed(self.history) if p.get("buttons")), None)
        options = [b["payload"] for row in (question or {}).get("buttons", []) for b in row]
        if payload not in options:
            raise AssertionError(f"no choice {payload!r} was offered (newest choices: {options})")
        if self.channel == "whatsapp":
            return self.say(str(options.index(payload) + 1))
        return self.say(button=payload)

    def pop(self) -> list[dict]:
        """The payloads of the replies not seen yet; they count as delivered now."""
        with self.runtime.transaction() as s:
            rows = s.scalars(select(Outbox).where(Outbox.channel == self.channel,
                                                  Outbox.chat_id == self.chat_id,
                                                  Outbox.id > self.seen).order_by(Outbox.id)).all()
            for row in rows:
                if row.status == PENDING:
                    mark_sent(row, None, self.runtime.clock())
            payloads = [dict(r.payload) for r in rows]
        if rows:
            self.seen = rows[-1].id
        self.history += payloads
        for p in payloads:
            if p.get("buttons"):
                pressable = {b["payload"] for row in p["buttons"] for b in row}
                self.keyboards |= pressable
                self.newest = pressable
        return payloads

    def file_complaint(self, text="Lampu jalan di depan kantor mati sejak seminggu.", privacy="biasa",
                       name="Siti Aminah") -> str:
        """Walk the whole form; return the ticket number."""
        self.say("/mulai")
        self.choose("agree")
        self.choose("file")
        replies = []
        if name:
            replies += self.say(name)
            replies += self.say("siti@contoh.go.id")  # email (required by some workflows)
        if self.channel != "whatsapp":
            replies += self.say("081234567890")
        self.choose("pengaduan")
        if self.runtime.conversation.office.categories:
            self.say("1")  # the first category
        self.say(text)
        self.choose("next")
        self.choose(privacy)
        replies = self.choose("submit")
        return replies[0].split("nomor tiket ")[1].split(".")[0]


def photo(ref="AgAD-photo", size=1000):
    return Attachment("photo", ref, "image/jpeg", size)


def enrol(runtime, role, unit=None, *, channel="webchat", chat_id=None, hint=None, now=None) -> Chat:
    """An officer invited as the admin does and enrolled from their own chat with /petugas.
    On the web chat as officers must: enrolled on Telegram first (`chat.app`), then the web
    chat linked with the code /webchat gives there."""
    from storage.db import transaction
    from storage.officers import invite

    with transaction(runtime.sessions) as s:
        officer, code = invite(s, runtime.workflow, role, unit, now=now or runtime.clock())
    chat = Chat(runtime, channel=channel, chat_id=chat_id or f"w-{role}-{unit}", language_hint=hint)
    if channel == "webchat":
        chat.app = Chat(runtime, channel="telegram", chat_id=f"t-{chat.chat_id}", language_hint=hint)
        code = link_webchat(chat.app, code)
    replies = chat.say(f"/petugas {code.lower()}")
    assert replies[0].startswith(("Anda terdaftar sebagai petugas", "You are enrolled")), replies
    chat.officer_id = officer.id
    return chat


def link_webchat(app: Chat, invitation: str) -> str:
    """Enrol `app` (a Telegram or WhatsApp chat) with the invitation; return the code its
    /webchat gives for the web chat."""
    assert app.say(f"/petugas {invitation}")[0].startswith(("Anda terdaftar", "You are enrolled"))
    [answer] = app.say("/webchat")
    return re.search(r"/(?:petugas|officer) (\S+)", answer)[1]
