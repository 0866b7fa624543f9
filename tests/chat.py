"""A test backend in errbot's manner: push a message into a conversation, pop the replies.

It goes through Runtime.receive, the same path a webhook takes after authentication
and parsing, and reads the replies back from the outbox.
"""
from __future__ import annotations

import itertools

from sqlalchemy import select

from flows.messages import Attachment, Inbound
from storage.models import Outbox

_ids = itertools.count(1)


class Chat:
    def __init__(self, runtime, channel: str = "webchat", chat_id: str = "w-visitor", language_hint=None):
        self.runtime, self.channel, self.chat_id = runtime, channel, chat_id
        self.language_hint = language_hint
        self.seen = 0

    def say(self, text=None, *, button=None, attachments=(), phone=None, event="message",
            message_id=None) -> list[str]:
        """Send one message; return the texts of the replies it produced."""
        self.earlier = self.pop()  # what reached this chat before (notifications)
        inbound = Inbound(self.channel, self.chat_id, message_id or f"m{next(_ids)}", text=text,
                          button=button, attachments=tuple(attachments), phone=phone,
                          language_hint=self.language_hint, event=event)
        self.runtime.receive(self.channel, inbound.provider_message_id, inbound, {"test": True})
        self.last = self.pop()  # the whole payloads (buttons too) of these replies
        return [p["text"] for p in self.last]

    def pop(self) -> list[dict]:
        """The payloads of the replies not seen yet."""
        with self.runtime.sessions() as s:
            rows = s.scalars(select(Outbox).where(Outbox.channel == self.channel,
                                                  Outbox.chat_id == self.chat_id,
                                                  Outbox.id > self.seen).order_by(Outbox.id)).all()
        if rows:
            self.seen = rows[-1].id
        return [r.payload for r in rows]

    def file_complaint(self, text="Lampu jalan di depan kantor mati sejak seminggu.", privacy="biasa",
                       name="Siti Aminah") -> str:
        """Walk the whole form; return the ticket number."""
        self.say("/mulai")
        self.say(button="agree")
        self.say(button="file")
        replies = []
        if name:
            replies += self.say(name)
            replies += self.say("siti@contoh.go.id")  # email (required by some workflows)
        if self.channel != "whatsapp":
            replies += self.say("081234567890")
        self.say(button="pengaduan")
        if self.runtime.conversation.office.categories:
            self.say("1")  # the first category
        self.say(text)
        self.say(button="next")
        self.say(button=privacy)
        replies = self.say(button="submit")
        return replies[0].split("nomor tiket ")[1].split(".")[0]


def photo(ref="AgAD-photo", size=1000):
    return Attachment("photo", ref, "image/jpeg", size)
