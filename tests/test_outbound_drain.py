"""Draining a chat: each message costs one round of the database (what became of the last
send, and the next row with its recipient, in one transaction), and that next row is read
fresh, so what happens while a chat drains (the citizen blocks the bot) counts at once."""
import itertools

import pytest
from sqlalchemy import event, select

from bot.app import create_app
from bot.outbound import Dispatcher
from storage.models import Outbox
from tests.conftest import wib
from tests.fakes.telegram_api import FakeBotAPI

SECRET, TOKEN = "drain-secret", "123:TEST"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
_ids = itertools.count(5000)


class BlockedMidDrain(FakeBotAPI):
    """Runs `on_send` (once) when the first message reaches the provider."""

    on_send = None

    def respond(self, rec):
        if rec.path.endswith("/sendMessage") and self.on_send is not None:
            hook, self.on_send = self.on_send, None
            hook()
        return super().respond(rec)


@pytest.fixture
def world(make_runtime):
    with BlockedMidDrain(TOKEN) as api:
        runtime = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0),
                               telegram={"token": TOKEN, "secret_token": SECRET, "api_base_url": api.url})
        yield runtime, create_app(runtime=runtime).test_client(), api


def start(client, chat):
    uid = next(_ids)
    r = client.post("/webhooks/telegram", headers=HEADERS, json={"update_id": uid, "message": {
        "message_id": uid, "date": 1744077600, "text": "/start", "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "Siti", "language_code": "id"}}})
    assert r.status_code == 200


def kicked(chat):
    bot = {"id": 999, "is_bot": True, "first_name": "Aduan"}
    return {"update_id": next(_ids), "my_chat_member": {
        "chat": {"id": chat, "type": "private"}, "from": {"id": chat, "is_bot": False, "first_name": "S"},
        "date": 1744077600, "old_chat_member": {"status": "member", "user": bot},
        "new_chat_member": {"status": "kicked", "until_date": 0, "user": bot}}}


def dispatcher(runtime):
    return Dispatcher(runtime, runtime.senders, sleep=lambda s: None, limits={"telegram": (0.0, 10_000)})


@pytest.mark.parametrize("chats", [1, 3])
def test_each_message_costs_one_round_of_the_database(world, chats):
    runtime, client, api = world
    for n in range(chats):
        start(client, 61_000 + n)  # a greeting and a privacy notice each
    statements = []
    listener = lambda conn, cursor, sql, *rest: statements.append(sql)  # noqa: E731
    event.listen(runtime.engine, "before_cursor_execute", listener)
    try:
        sent = dispatcher(runtime).run_once()
    finally:
        event.remove(runtime.engine, "before_cursor_execute", listener)
    assert sent == 2 * chats and len(api.sent()) == 2 * chats
    work = [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
    # the due chats; per chat its first row; per message its UPDATE and the next row
    assert len(work) <= 1 + chats + 2 * (2 * chats), work


def test_a_block_while_the_chat_drains_stops_the_rest(world):
    runtime, client, api = world
    start(client, 62_000)
    api.on_send = lambda: client.post("/webhooks/telegram", json=kicked(62_000), headers=HEADERS)
    dispatcher(runtime).run_once()
    assert len(api.sent()) == 1  # the greeting went; the citizen blocked the bot meanwhile
    with runtime.sessions() as s:
        rows = s.scalars(select(Outbox).order_by(Outbox.id)).all()
    assert [r.status for r in rows] == ["sent", "failed"]
    assert rows[1].error == "undeliverable: recipient blocked the bot"
