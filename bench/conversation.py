"""A citizen's conversation as Telegram updates: the benchmarks of handling send it from
many chats. It is what a citizen does: /mulai, agree to the privacy notice, file a
complaint step by step (buttons where the bot offered them), ask for the status, type
something the menu does not know, and an unknown command (a reply that names it)."""
from __future__ import annotations

import json
import re

STEPS = (("text", "/mulai"), ("button", "agree"), ("button", "file"), ("text", "Siti Aminah"),
         ("text", "siti@contoh.go.id"), ("text", "081234567890"), ("button", "pengaduan"),
         ("text", "Lampu jalan di depan kantor mati sejak seminggu."), ("button", "next"),
         ("button", "biasa"), ("button", "submit"), ("text", "/status"), ("text", "halo"),
         ("text", "/cek"))


def updates(chat: int, first_uid: int) -> list[dict]:
    """The conversation of Telegram chat `chat`, update ids from `first_uid` on."""
    user = {"id": chat, "is_bot": False, "first_name": "Siti", "language_code": "id"}
    out = []
    for n, (kind, value) in enumerate(STEPS):
        uid = first_uid + n
        message = {"message_id": uid, "date": 1744077600, "chat": {"id": chat, "type": "private"}, "from": user}
        if kind == "text":
            text = f"{value}{chat}" if value == "/cek" else value
            out.append({"update_id": uid, "message": dict(message, text=text)})
        else:
            out.append({"update_id": uid, "callback_query": {
                "id": f"cb{uid}", "from": user, "chat_instance": str(chat), "data": value, "message": message}})
    return out


def bodies(chat: int, first_uid: int) -> list[bytes]:
    return [json.dumps(u).encode() for u in updates(chat, first_uid)]


_VOLATILE = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}|\d+")


def normalized(text: str) -> str:
    """A reply with what differs between chats (numbers, tickets, access codes) blanked."""
    return _VOLATILE.sub("#", text)
