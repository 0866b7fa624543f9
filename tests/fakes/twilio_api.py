"""A fake Twilio Messages API that records what the twilio library sends."""
from __future__ import annotations

import itertools

from tests.fakes.http import FakeServer, Recorded


class FakeTwilioAPI(FakeServer):
    def __init__(self, account_sid: str = "AC" + "0" * 32):
        super().__init__()
        self.account_sid = account_sid
        self.ids = itertools.count(1)
        self.script: list[tuple[int, dict]] = []
        self.media: dict[str, bytes] = {}  # path -> content of media the citizen "sent"
        self.auth = "twilio-auth-token"

    def respond(self, rec: Recorded):
        if rec.path in self.media:
            import base64

            expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth}".encode()).decode()
            if rec.headers.get("Authorization") != expected:
                return 401, {}, {"code": 20003, "message": "Authenticate", "status": 401}
            return 200, {"Content-Type": "image/jpeg"}, self.media[rec.path]
        if rec.path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, {}, {"code": 20404, "message": "not found", "status": 404}
        if self.script:
            status, body = self.script.pop(0)
            return status, {}, body
        p = rec.params()
        sid = f"SM{next(self.ids):032x}"
        return 201, {}, {"sid": sid, "account_sid": self.account_sid, "to": p.get("To"), "from": p.get("From"),
                         "body": p.get("Body"), "status": "queued", "num_segments": "1",
                         "date_created": "Sun, 22 Nov 2026 10:00:00 +0000", "uri": f"/Messages/{sid}.json"}

    def sent(self) -> list[dict]:
        return [r.params() for r in self.requests if r.path.endswith("/Messages.json")]
