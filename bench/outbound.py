"""Outbound: outbox messages to a fake Bot API that enforces Telegram's limits (1 message
a second per chat, 30 a second overall, as a sliding window) and answers 429 with
retry_after when they are broken. Figures: messages/s achieved (the limits allow at most
30), 429s received (goal 0), and per-chat order."""
from __future__ import annotations

import os
import tempfile
import threading
import time
from collections import defaultdict, deque

from bench.common import figure

COUNT = int(os.environ.get("ADUAN_BENCH_OUTBOUND", "10000"))
CHATS = max(1, COUNT // 5)


def main() -> None:
    os.chdir(tempfile.mkdtemp())
    from flows.messages import Reply
    from storage.db import transaction
    from storage.migrate import upgrade
    from storage.outbox import enqueue
    from bot.config import Settings
    from bot.outbound import Dispatcher
    from bot.runtime import Runtime
    from tests.fakes.telegram_api import FakeBotAPI

    class LimitedBotAPI(FakeBotAPI):
        def __init__(self, token):
            super().__init__(token)
            self.window, self.last, self.too_many = deque(), {}, 0
            self.received = defaultdict(list)
            self.guard = threading.Lock()

        def respond(self, rec):
            if rec.path.endswith("/sendMessage"):
                params = rec.params()
                chat, now = int(params["chat_id"]), time.monotonic()
                with self.guard:
                    while self.window and now - self.window[0] > 1.0:
                        self.window.popleft()
                    if len(self.window) >= 30 or now - self.last.get(chat, -9) < 1.0:
                        self.too_many += 1
                        return 429, {}, {"ok": False, "error_code": 429, "description": "Too Many Requests",
                                         "parameters": {"retry_after": 1}}
                    self.window.append(now)
                    self.last[chat] = now
                    self.received[chat].append(int(params["text"].split("#")[1]))
            return super().respond(rec)

    with LimitedBotAPI("123:BENCH") as api:
        runtime = Runtime(Settings.model_validate({
            "database": {"url": "sqlite:///var/out.db"},
            "telegram": {"token": "123:BENCH", "api_base_url": api.url}}))
        upgrade(runtime.engine)
        with transaction(runtime.sessions) as s:
            for n in range(COUNT):
                enqueue(s, "telegram", str(10_000 + n % CHATS), Reply(f"pesan #{n}"))
        dispatcher = Dispatcher(runtime, runtime.senders)
        started = time.monotonic()
        while True:
            sent = dispatcher.run_once()
            with runtime.sessions() as s:
                from sqlalchemy import func, select

                from storage.models import Outbox
                pending = s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "pending"))
            if not pending:
                break
            if not sent:
                time.sleep(0.05)
        elapsed = time.monotonic() - started
        disorder = sum(1 for got in api.received.values() if got != sorted(got))
        delivered = sum(len(v) for v in api.received.values())
        figure("telegram_allowed_msgs_per_s", 30)
        figure("outbound_msgs_per_s", delivered / elapsed)
        figure("outbound_messages", delivered)
        figure("outbound_429_received", api.too_many)
        figure("outbound_chats_out_of_order", disorder)
        runtime.close()


if __name__ == "__main__":
    main()
