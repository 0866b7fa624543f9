"""Telegram: the webhook (updates in) and the Bot API (messages out).

In: `POST /webhooks/telegram` (the first office) or `/webhooks/telegram/<office>` (each
office has its own bot), authenticated by that office's X-Telegram-Bot-Api-Secret-Token
header, parsed with python-telegram-bot's types. A pressed button is answered in the
webhook's own response (answerCallbackQuery), so it never spins.
Out: one initialized `Bot` on one long-lived event loop per worker process.
"""
from __future__ import annotations

import asyncio
import base64
import hmac
import html
import re
import logging
import os
import threading
from pathlib import Path

os.environ.setdefault("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as a timedelta (PTB 22.2+)

from flask import Blueprint, current_app, jsonify, request
from telegram import (Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, KeyboardButton,
                      ReplyKeyboardMarkup, ReplyKeyboardRemove, Update)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.channels.base import FAILED, ID_MAX, RETRY, SENT, Outgoing, SendResult, ids_fit
from storage.outbox import split_text  # the providers' hard limits, as a guard
from flows.messages import Attachment, Inbound

log = logging.getLogger(__name__)
CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
TEXT_LIMIT = 4096
CAPTION_LIMIT = 900  # Telegram takes 1,024 characters; room for the <code> tags
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")  # what sendPhoto takes; other images go as documents
PHOTO_BYTES = 10 * 1024 * 1024  # sendPhoto's upload limit


OK = b'{"ok":true}\n'  # what jsonify(ok=True) gives, without encoding it every time


class BadUpdate(ValueError):
    pass


# -- in ---------------------------------------------------------------------------------------
def parse_update(data: dict) -> tuple[str, Inbound | None, str | None]:
    """(update id, the Inbound or None when there is nothing to do, callback query id)."""
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise BadUpdate("not a Telegram update")
    if (plain := plain_text_message(data)) is not None:
        return plain
    try:
        update = Update.de_json(data, None)
    # OverflowError/OSError: a date no clock can hold (datetime.fromtimestamp of 6.8e16)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError) as exc:
        raise BadUpdate(f"unreadable update: {type(exc).__name__}") from None
    try:
        uid, inbound, callback_id = _parse(update)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise BadUpdate(f"unreadable update: {type(exc).__name__}") from None
    if not ids_fit(uid, callback_id, *((inbound.chat_id, inbound.reply_to) if inbound else ())):
        raise BadUpdate(f"an id is longer than {ID_MAX} characters")
    return uid, inbound, callback_id


# The shape of most updates: a text (or a command) typed in a private chat. Read directly,
# it costs a tenth of python-telegram-bot's de_json, which the rest still goes through;
# tests/test_telegram_parse.py proves both give the same for every update of this shape.
_USER = {"id": int, "is_bot": bool, "first_name": str, "last_name": str, "username": str,
         "language_code": str, "is_premium": bool}
_CHAT = {"id": int, "type": str, "first_name": str, "last_name": str, "username": str}
_ENTITY = {"type": str, "offset": int, "length": int}
_MESSAGE = {"message_id": int, "date": int, "text": str, "chat": dict, "from": dict, "entities": list}


def _shaped(value, fields: dict, required: tuple) -> bool:
    return (isinstance(value, dict) and all(k in value for k in required)
            and all(k in fields and type(v) is fields[k] for k, v in value.items()))


def plain_text_message(data: dict) -> tuple[str, Inbound, None] | None:
    """The parse of a plain text message in a private chat, or None: another kind of update
    (or anything unusual in this one), for python-telegram-bot to read."""
    m = data.get("message")
    if len(data) != 2 or type(data["update_id"]) is not int or not _shaped(
            m, _MESSAGE, ("message_id", "date", "text", "chat", "from")):
        return None
    chat, user = m["chat"], m["from"]
    if not (_shaped(chat, _CHAT, ("id", "type")) and chat["type"] == "private"
            and _shaped(user, _USER, ("id", "is_bot", "first_name")) and 0 <= m["date"] < 2 ** 31
            and all(_shaped(e, _ENTITY, ("type", "offset", "length")) for e in m.get("entities", ()))):
        return None
    uid = str(data["update_id"])
    inbound = Inbound(CHANNEL, str(chat["id"]), uid, text=m["text"], language_hint=user.get("language_code"))
    if not ids_fit(uid, None, inbound.chat_id):
        return None  # PTB's path says why
    return uid, inbound, None


def _parse(update: Update) -> tuple[str, Inbound | None, str | None]:
    uid = str(update.update_id)
    if update.message is not None:
        return uid, _from_message(uid, update.message), None
    if update.callback_query is not None:
        cq = update.callback_query
        chat = cq.message.chat if cq.message is not None else None
        if chat is not None and chat.type != "private":
            return uid, None, cq.id
        inbound = Inbound(CHANNEL, str(chat.id if chat else cq.from_user.id), uid, button=cq.data,
                          language_hint=cq.from_user.language_code)
        return uid, inbound, cq.id
    if update.my_chat_member is not None:
        member = update.my_chat_member
        if member.chat.type == "private":
            status = member.new_chat_member.status
            event = "blocked" if status in ("kicked", "left") else "unblocked"
            return uid, Inbound(CHANNEL, str(member.chat.id), uid, event=event), None
    return uid, None, None  # edited messages and other kinds: recorded, nothing to do


def _from_message(uid: str, m) -> Inbound | None:
    if m.chat.type != "private":
        return None  # group chats are not used for citizen intake
    files: list[Attachment] = []
    phone = None
    if m.photo:
        p = m.photo[-1]  # the largest size
        files.append(Attachment("photo", p.file_id, "image/jpeg", p.file_size))
    for kind in ("document", "voice", "audio", "video"):
        f = getattr(m, kind)
        if f is not None:
            files.append(Attachment(kind, f.file_id, getattr(f, "mime_type", None), f.file_size,
                                    getattr(f, "file_name", None)))
    if m.sticker is not None:
        files.append(Attachment("sticker", m.sticker.file_id))
    if m.location is not None:
        files.append(Attachment("location", f"{m.location.latitude},{m.location.longitude}"))
    if m.contact is not None:
        files.append(Attachment("contact"))
        if m.from_user is not None and m.contact.user_id == m.from_user.id:
            phone = m.contact.phone_number  # the citizen's own number, from the share button
    user = m.from_user
    text = m.text if m.text is not None else m.caption
    if text is not None and not isinstance(text, str):
        raise TypeError("text is not a string")
    reply_to = str(m.reply_to_message.message_id) if m.reply_to_message else None
    return Inbound(CHANNEL, str(m.chat.id), uid, text=text, attachments=tuple(files),
                   language_hint=user.language_code if user else None, phone=phone, reply_to=reply_to)


def blueprint() -> Blueprint:
    bp = Blueprint("telegram", __name__)

    @bp.post("/webhooks/telegram")
    @bp.post("/webhooks/telegram/<office>")
    def webhook(office: str | None = None):
        """Telegram update in, for the first office or the office in the path (each office
        has its own bot, and its own secret): 403 without the secret; 200 only once it is
        stored."""
        deployment = current_app.extensions["aduan"]
        runtime = deployment.default if office is None else deployment.office_by_code(office)
        if runtime is None:
            return jsonify(error="forbidden"), 403  # an unknown office says no more than a wrong secret
        secret = runtime.settings.telegram.secret_token
        given = request.headers.get(SECRET_HEADER, "")
        if secret is None or not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
            return jsonify(error="forbidden"), 403
        data = request.get_json(silent=True)
        try:
            uid, inbound, callback_id = parse_update(data)
        except BadUpdate as exc:
            return jsonify(error=str(exc)), 400
        runtime.receive(CHANNEL, uid, inbound, data)
        if callback_id:  # answered in the response: no extra request, never a spinning button
            return jsonify(method="answerCallbackQuery", callback_query_id=callback_id)
        return current_app.response_class(OK, mimetype="application/json")

    return bp


# -- out --------------------------------------------------------------------------------------
def _markup(payload: dict):
    if payload.get("ask_contact"):
        buttons = [[KeyboardButton(payload["ask_contact"], request_contact=True)]]
        buttons += [[KeyboardButton(b["label"])] for row in payload.get("buttons", []) for b in row]
        return ReplyKeyboardMarkup(buttons, one_time_keyboard=True, resize_keyboard=True)
    if payload.get("buttons"):
        return InlineKeyboardMarkup([[InlineKeyboardButton(b["label"], callback_data=b["payload"])
                                      for b in row] for row in payload["buttons"]])
    if payload.get("remove_keyboard"):
        return ReplyKeyboardRemove()
    return None


TICKET = re.compile(r"\b[A-Z]{2,6}-\d{4}-\d{6}\b")


def _html(text: str) -> str:
    """Escape the text; put ticket numbers in <code>, which Telegram copies with a tap."""
    return TICKET.sub(lambda m: f"<code>{m.group(0)}</code>", html.escape(text, quote=False))


def _seconds(value) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


class TelegramSender:
    """Sends through the Bot API from a long-lived event loop in its own thread."""

    channel = CHANNEL

    def __init__(self, token: str, api_base_url: str):
        base = api_base_url.rstrip("/")
        self.bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot")
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="telegram-loop", daemon=True)
        self._thread.start()
        self._initialized = False

    def _run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def send(self, message: Outgoing) -> SendResult:
        try:
            if not self._initialized:
                self._run(self.bot.initialize())
                self._initialized = True
            ids = self._run(self._send(message))
            return SendResult(SENT, provider_message_id=",".join(ids))
        except RetryAfter as exc:
            return SendResult(RETRY, delay=_seconds(exc.retry_after), error="429 retry_after", paced=True)
        except Forbidden as exc:  # blocked by the user, or kicked
            return SendResult(FAILED, error=f"undeliverable: {exc.message}")
        except BadRequest as exc:  # retrying will not help
            if "chat not found" in exc.message.lower() or "user not found" in exc.message.lower():
                return SendResult(FAILED, error=f"undeliverable: {exc.message}")
            return SendResult(FAILED, error=f"rejected: {exc.message}")
        except (TimedOut, NetworkError, TimeoutError) as exc:
            return SendResult(RETRY, delay=5, error=f"network: {type(exc).__name__}")
        except TelegramError as exc:  # e.g. a revoked token: keep the row, count the attempt
            return SendResult(RETRY, delay=60, error=f"telegram: {type(exc).__name__}")
        except OSError as exc:  # a stored attachment that cannot be read: retrying will not help
            return SendResult(FAILED, error=f"rejected: stored file: {type(exc).__name__}")

    async def _send(self, message: Outgoing) -> list[str]:
        payload = message.payload
        if payload.get("file"):
            return [await self._send_file(int(message.chat_id), payload)]
        parts = split_text(payload["text"], TEXT_LIMIT - 500)  # room for the <code> tags
        ids = []
        if payload.get("photo"):  # the monthly report's chart, base64 in the row
            sent = await self.bot.send_photo(int(message.chat_id), base64.b64decode(payload["photo"]))
            ids.append(str(sent.message_id))
        for n, part in enumerate(parts):
            last = n == len(parts) - 1  # the buttons go under the last part
            sent = await self.bot.send_message(int(message.chat_id), _html(part), parse_mode="HTML",
                                               reply_markup=_markup(payload) if last else None)
            ids.append(str(sent.message_id))
        return ids

    async def _send_file(self, chat: int, payload: dict) -> str:
        """A citizen's file to an officer: by its Telegram file id when it came by Telegram
        (no upload, and Telegram keeps the type it had), else the stored copy uploaded."""
        f, text = payload["file"], payload["text"]
        caption = _html(text) if len(text) <= CAPTION_LIMIT else None
        if f.get("telegram_file_id"):
            send = {"photo": self.bot.send_photo, "voice": self.bot.send_voice, "audio": self.bot.send_audio,
                    "video": self.bot.send_video}.get(f.get("kind"), self.bot.send_document)
            source = f["telegram_file_id"]
        else:
            data = Path(f["path"]).read_bytes()
            photo = f.get("kind") == "photo" and f.get("type") in PHOTO_TYPES and len(data) <= PHOTO_BYTES
            send = self.bot.send_photo if photo else self.bot.send_document
            source = InputFile(data, filename=f.get("name"))
        sent = await send(chat, source, caption=caption, parse_mode="HTML" if caption else None)
        if caption is None:  # too long for a caption: the text follows on its own
            await self.bot.send_message(chat, _html(text[:TEXT_LIMIT - 500]), parse_mode="HTML")
        return str(sent.message_id)

    def fetch(self, file_id: str, max_bytes: int) -> bytes:
        """Download a citizen's file (the Bot API serves files up to 20 MB)."""
        from bot.attachments import FetchError

        async def download():
            f = await self.bot.get_file(file_id)
            if f.file_size and f.file_size > max_bytes:
                raise FetchError(f"file of {f.file_size} bytes is over the limit")
            return bytes(await f.download_as_bytearray())

        if not self._initialized:
            self._run(self.bot.initialize())
            self._initialized = True
        try:
            return self._run(download())
        except BadRequest as exc:  # e.g. "file is too big"
            raise FetchError(exc.message) from None

    def set_webhook(self, url: str, secret_token: str) -> bool:
        return self._run(self.bot.set_webhook(url, secret_token=secret_token,
                                              allowed_updates=ALLOWED_UPDATES))

    def close(self) -> None:
        if self._initialized:
            try:
                self._run(self.bot.shutdown(), timeout=10)
            except Exception:  # shutting down anyway
                log.debug("telegram shutdown", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
