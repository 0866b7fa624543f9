"""People on the real channels, for journey tests: they post what their app posts to the
webhooks (a Telegram update, a signed Twilio form, the web chat page's JSON) and read
what the provider really received from Aduan's senders (the fake Bot API and the fake
Twilio API, through python-telegram-bot and the twilio client).

Each person can only do what their app lets them: type text; press a button that the
bot sent them (Telegram: an inline button's callback_data or a reply-keyboard button,
which sends its label as text; the web chat: the newest choices on the page); on
WhatsApp there are no buttons, so `pick` types the number of the option in the
numbered list the bot sent.
"""
from __future__ import annotations

import itertools
import json
import re

from twilio.request_validator import RequestValidator

from bot.app import create_app
from bot.outbound import Dispatcher

TOKEN, SECRET = "123:TEST", "wire-secret"
SID, AUTH = "AC" + "0" * 32, "twilio-auth"
PUBLIC_URL = "https://aduan.contoh.go.id/webhooks/whatsapp"
SENDER = "+14155238886"
_ids = itertools.count(10_000)
_NUMBERED = re.compile(r"^(\d+)\. (.+)$", re.M)


def channel_settings(telegram_api=None, twilio_api=None, templates=None) -> dict:
    """The runtime settings that point the channels at the fakes."""
    sections = {}
    if telegram_api is not None:
        sections["telegram"] = {"token": TOKEN, "secret_token": SECRET, "api_base_url": telegram_api.url}
    if twilio_api is not None:
        sections["whatsapp"] = {"account_sid": SID, "auth_token": AUTH, "from_number": SENDER,
                                "public_url": PUBLIC_URL, "api_base_url": twilio_api.url,
                                "templates": templates or {}}
    return sections


class World:
    """The app, the fake providers behind it, and the outbound worker's work on demand."""

    def __init__(self, runtime, telegram_api=None, twilio_api=None):
        self.runtime, self.telegram_api, self.twilio_api = runtime, telegram_api, twilio_api
        self.app = create_app(runtime=runtime)
        self._parsed: dict = {}
        self.dispatcher = Dispatcher(runtime, runtime.senders_by_office, clock=runtime.clock, sleep=lambda s: None,
                                     limits={"telegram": (0.0, 10_000), "whatsapp": (0.0, 10_000)})

    def deliver(self) -> None:
        """What the outbound workers do: send every due row to its provider."""
        for _ in range(100):
            if not self.dispatcher.run_once():
                return
        raise AssertionError("the outbox does not drain")

    def received(self, fake, key: str, chat: str) -> list[dict]:
        """The parameters of the provider calls to one chat (`key` names the recipient),
        parsed once each: a long walk makes thousands of calls."""
        parsed, by_chat = self._parsed.setdefault(id(fake), [0, {}])
        with fake.lock:
            new = fake.requests[parsed:]
            self._parsed[id(fake)][0] = parsed + len(new)
        for rec in new:
            if rec.method == "POST" and rec.path.endswith(("/sendMessage", "/Messages.json")):
                params = rec.params()
                by_chat.setdefault(str(params.get(key)), []).append(params)
        return by_chat.get(chat, [])

    def person(self, channel: str, n: int):
        return {"telegram": TelegramUser, "whatsapp": WhatsAppUser, "webchat": WebChatUser}[channel](self, n)


class _Person:
    channel = ""

    def __init__(self, world: World, n: int):
        self.world, self.n = world, n
        self.received: list[dict] = []  # {"text", "options": [(label, payload or None)]}
        self.read_upto = 0

    def read(self) -> list[str]:
        """The texts that reached this person since they last looked."""
        self.world.deliver()
        self.received = self._inbox()
        new = self.received[self.read_upto:]
        self.read_upto = len(self.received)
        return [m["text"] for m in new]

    def options(self) -> list[tuple[str, str | None]]:
        """The newest choices this person was given."""
        self.world.deliver()
        self.received = self._inbox()
        return next((m["options"] for m in reversed(self.received) if m["options"]), [])

    def pick(self, label: str) -> None:
        """Choose the option with this label, as this channel lets a person do it."""
        options = self.options()
        labels = [lab for lab, _ in options]
        if label not in labels:
            raise AssertionError(f"{self.channel}: no choice {label!r} was offered (newest: {labels})")
        self._pick(labels.index(label), options[labels.index(label)])

    def _pick(self, index: int, option) -> None:
        raise NotImplementedError


class TelegramUser(_Person):
    channel = "telegram"
    path, secret = "/webhooks/telegram", SECRET  # the first office's bot
    fake = "telegram_api"

    @property
    def chat_id(self) -> int:
        return 70_000 + self.n

    def _post(self, update: dict) -> None:
        r = self.world.app.test_client().post(self.path, json=update,
                                              headers={"X-Telegram-Bot-Api-Secret-Token": self.secret})
        assert r.status_code == 200, r.data

    def _user(self) -> dict:
        return {"id": self.chat_id, "is_bot": False, "first_name": "Warga", "language_code": "id"}

    def say(self, text: str) -> None:
        uid = next(_ids)
        self._post({"update_id": uid, "message": {"message_id": uid, "date": 1, "text": text, "from": self._user(),
                                                  "chat": {"id": self.chat_id, "type": "private"}}})

    def _pick(self, index, option) -> None:
        label, payload = option
        if payload is None:  # a reply-keyboard button sends its label as a message
            return self.say(label)
        uid = next(_ids)
        self._post({"update_id": uid, "callback_query": {
            "id": f"q{uid}", "chat_instance": "1", "data": payload, "from": self._user(),
            "message": {"message_id": 1, "date": 1,
                        "chat": {"id": self.chat_id, "type": "private"}}}})

    def _inbox(self) -> list[dict]:
        found = []
        for params in self.world.received(getattr(self.world, self.fake), "chat_id", str(self.chat_id)):
            markup = params.get("reply_markup")
            markup = json.loads(markup) if isinstance(markup, str) else (markup or {})
            options = [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]
            options += [(b["text"] if isinstance(b, dict) else b, None)
                        for row in markup.get("keyboard", []) for b in row
                        if not (isinstance(b, dict) and b.get("request_contact"))]
            found.append({"text": re.sub(r"</?code>", "", params.get("text", "")), "options": options})
        return found


class WhatsAppUser(_Person):
    channel = "whatsapp"

    @property
    def number(self) -> str:
        return f"+62811{self.n:07d}"

    def say(self, text: str = "", media: list[tuple[str, str]] = ()) -> None:
        params = {"MessageSid": f"SM{next(_ids):032d}", "AccountSid": SID, "From": f"whatsapp:{self.number}",
                  "To": f"whatsapp:{SENDER}", "NumMedia": str(len(media)), "Body": text,
                  "ProfileName": "Warga", "WaId": self.number[1:]}
        for n, (url, kind) in enumerate(media):
            params[f"MediaUrl{n}"], params[f"MediaContentType{n}"] = url, kind
        signature = RequestValidator(AUTH).compute_signature(PUBLIC_URL, params)
        r = self.world.app.test_client().post("/webhooks/whatsapp", data=params,
                                              headers={"X-Twilio-Signature": signature})
        assert r.status_code == 200, r.data

    def options(self) -> list[tuple[str, str | None]]:
        """The choices of the newest message only: a number typed answers that message
        (an older list in the chat is no longer what "1" means)."""
        self.world.deliver()
        self.received = self._inbox()
        return self.received[-1]["options"] if self.received else []

    def _pick(self, index, option) -> None:
        self.say(str(index + 1))  # what a person types under a numbered list

    def _inbox(self) -> list[dict]:
        found = []
        for params in self.world.received(self.world.twilio_api, "To", f"whatsapp:{self.number}"):
            body = params.get("Body")
            if body is None:  # a template: its one variable holds the text
                body = json.loads(params.get("ContentVariables") or "{}").get("1", "")
            listed = _NUMBERED.findall(body)
            if not listed and " · " in body.rsplit("\n", 1)[-1]:  # a scale: "1 · 2 · 3 · 4 · 5"
                listed = [(str(n), v) for n, v in enumerate(body.rsplit("\n", 1)[-1].split(" · "), 1)]
            found.append({"text": body, "options": [(label, None) for _, label in listed]})
        return found


class WebChatUser(_Person):
    """A visitor of the web chat page (its own cookie), through the page's JSON calls."""

    channel = "webchat"

    def __init__(self, world, n):
        super().__init__(world, n)
        self.client = world.app.test_client()  # a browser: its own cookie jar
        self.after, self.messages, self.live = 0, [], []

    def _post(self, body: dict) -> None:
        r = self.client.post("/webchat/api/messages", json={"id": f"msg{next(_ids)}", **body})
        assert r.status_code == 200, r.data

    def say(self, text: str) -> None:
        self._post({"text": text})

    def _pick(self, index, option) -> None:
        label, payload = option
        if payload not in self.live:
            raise AssertionError("the page has disabled that button")
        self.live = []  # the page disables a set of buttons once one is clicked
        self._post({"button": payload})

    def _inbox(self) -> list[dict]:
        data = self.client.get(f"/webchat/api/messages?after={self.after}").get_json()
        for m in data["messages"]:
            self.after = max(self.after, m["id"])
            options = [(b["label"], b["payload"]) for row in m.get("buttons", []) for b in row]
            if options:
                self.live = [p for _, p in options]  # only the newest choices stay live
            self.messages.append({"text": m["text"], "options": options})
        return self.messages
