"""A fake Telegram Bot API: answers like Telegram, records every call, and can be told
to refuse (429 with retry_after, 403 blocked) the way Telegram does."""
from __future__ import annotations

import itertools
import time

from tests.fakes.http import FakeServer, Recorded, Upload

BOT = {"id": 999, "is_bot": True, "first_name": "Aduan", "username": "aduan_bot",
       "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}

SEND_FILE = {"sendPhoto": "photo", "sendDocument": "document", "sendVoice": "voice", "sendAudio": "audio",
             "sendVideo": "video"}


class FakeBotAPI(FakeServer):
    def __init__(self, token: str = "123:TEST"):
        super().__init__()
        self.token = token
        self.ids = itertools.count(1)
        self.script: list[tuple[int, dict]] = []  # (status, body) answers for the next sendMessage calls
        self.blocked: set[int] = set()
        self.files: dict[str, bytes] = {}  # file_id -> content, for getFile and downloads
        self.kinds: dict[str, str] = {}  # file_id -> photo/document/voice/...; a file in `files` is a photo

    def respond(self, rec: Recorded):
        prefix = f"/bot{self.token}/"
        download = f"/file/bot{self.token}/photos/"
        if rec.path.startswith(download):
            file_id = rec.path[len(download):].removesuffix(".jpg")
            return 200, {"Content-Type": "image/jpeg"}, self.files[file_id]
        if not rec.path.startswith(prefix):
            return 404, {}, {"ok": False, "error_code": 404, "description": "Not Found"}
        method = rec.path[len(prefix):]
        if method == "getFile":
            file_id = rec.params()["file_id"]
            return 200, {}, {"ok": True, "result": {"file_id": file_id, "file_unique_id": file_id,
                                                    "file_size": len(self.files.get(file_id, b"")),
                                                    "file_path": f"photos/{file_id}.jpg"}}
        if method == "getMe":
            return 200, {}, {"ok": True, "result": BOT}
        if method in ("setWebhook", "answerCallbackQuery", "deleteWebhook"):
            return 200, {}, {"ok": True, "result": True}
        if method in SEND_FILE:
            return self._send_file(method, rec.params())
        if method == "sendMessage":
            params = rec.params()
            if self.script:
                status, body = self.script.pop(0)
                return status, {}, body
            chat = int(params["chat_id"])
            if chat in self.blocked:
                return 403, {}, {"ok": False, "error_code": 403,
                                 "description": "Forbidden: bot was blocked by the user"}
            return 200, {}, {"ok": True, "result": {
                "message_id": next(self.ids), "date": int(time.time()),
                "chat": {"id": chat, "type": "private"}, "text": params.get("text", "")}}
        return 400, {}, {"ok": False, "error_code": 400, "description": f"Bad Request: {method}"}

    def _send_file(self, method: str, params: dict):
        """sendPhoto, sendDocument, ...: a file id Telegram issued, of the same type (Telegram
        refuses to re-send a photo as a document), or a multipart upload."""
        field = SEND_FILE[method]
        chat, value = int(params["chat_id"]), params.get(field)
        if chat in self.blocked:
            return 403, {}, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
        if len(params.get("caption") or "") > 1024:
            return 400, {}, {"ok": False, "error_code": 400, "description": "Bad Request: message caption is too long"}
        if isinstance(value, Upload):
            file_id = f"uploaded-{next(self.ids)}"
            self.files[file_id], self.kinds[file_id] = value.data, field
        elif isinstance(value, str) and (value in self.files or value in self.kinds):
            file_id = value
            known = self.kinds.get(value, "photo")
            if known != field:
                return 400, {}, {"ok": False, "error_code": 400,
                                 "description": f"Bad Request: can't use file of type {known.title()} "
                                                f"as {field.title()}"}
        else:
            return 400, {}, {"ok": False, "error_code": 400,
                             "description": "Bad Request: wrong file identifier/HTTP URL specified"}
        media = {"file_id": file_id, "file_unique_id": file_id, "file_size": len(self.files.get(file_id, b""))}
        result = {"message_id": next(self.ids), "date": int(time.time()), "chat": {"id": chat, "type": "private"},
                  field: [dict(media, width=1, height=1)] if field == "photo" else media}
        if params.get("caption"):
            result["caption"] = params["caption"]
        return 200, {}, {"ok": True, "result": result}

    def sent_files(self) -> list[tuple[str, dict]]:
        """The file sends Telegram accepted or refused: (method, parameters)."""
        prefix = f"/bot{self.token}/"
        return [(r.path[len(prefix):], r.params()) for r in self.requests
                if r.path.startswith(prefix) and r.path[len(prefix):] in SEND_FILE]

    def sent(self) -> list[dict]:
        """The sendMessage calls that Telegram accepted, as parameters."""
        return [r.params() for r in self.requests if r.path.endswith("/sendMessage")]

    def too_many(self, retry_after: int = 1):
        self.script.append((429, {"ok": False, "error_code": 429,
                                  "description": f"Too Many Requests: retry after {retry_after}",
                                  "parameters": {"retry_after": retry_after}}))
