"""Faults: the database failing mid-request, Redis going away, slow providers.
"Nothing lost": a 2xx only after the commit; pending rows drain when things come back."""
import time
from datetime import timedelta

import pytest
import redis
from sqlalchemy import event, func, select

from bot.app import create_app
from bot.outbound import Dispatcher
from storage.acknowledgements import _Acknowledgement
from storage.models import InboundMessage, Outbox
from tests.conftest import wib
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_telegram import HEADERS, SECRET, TOKEN, message


def count(runtime, model, *where):
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_a_failed_commit_is_never_answered_2xx_and_the_retry_works(make_runtime, monkeypatch):
    runtime = make_runtime(telegram={"secret_token": SECRET})
    client = create_app(runtime=runtime).test_client()
    broken = {"left": 1}

    # The webhook's store is one statement in autocommit (its own commit); the database
    # refuses it as it is sent.
    execute = _Acknowledgement.execute

    def fail_once(ack, conn, values):
        if broken["left"]:
            broken["left"] -= 1
            raise runtime.ack_engine.dialect.loaded_dbapi.OperationalError("the database went away")
        return execute(ack, conn, values)

    monkeypatch.setattr(_Acknowledgement, "execute", fail_once)

    update = message("/start", update_id=424242)
    # not committed: a 500, never a 2xx, so Telegram delivers it again
    assert client.post("/webhooks/telegram", json=update, headers=HEADERS).status_code == 500
    assert count(runtime, InboundMessage) == 0 and count(runtime, Outbox) == 0
    assert client.post("/webhooks/telegram", json=update, headers=HEADERS).status_code == 200
    assert count(runtime, InboundMessage) == 1 and count(runtime, Outbox) == 2


def test_without_redis_intake_answers_and_the_backlog_drains_when_it_is_back(make_runtime):
    with FakeBotAPI(TOKEN) as api:
        runtime = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), redis={"url": "redis://127.0.0.1:1/0"},
                               telegram={"token": TOKEN, "secret_token": SECRET, "api_base_url": api.url})
        client = create_app(runtime=runtime).test_client()
        for n in range(5):
            assert client.post("/webhooks/telegram", json=message("/start", chat=700 + n),
                               headers=HEADERS).status_code == 200
        dispatcher = Dispatcher(runtime, runtime.senders, sleep=lambda s: None,
                                limits={"telegram": (0.0, 10_000)})
        with pytest.raises(redis.RedisError):
            dispatcher.run_once()  # the loop logs this and tries again next round
        assert count(runtime, Outbox, Outbox.status == "pending") == 10
        import fakeredis

        runtime.redis = fakeredis.FakeRedis(decode_responses=True)  # Redis is back
        from storage.redis_store import RateLimiter

        dispatcher.limiter = RateLimiter(runtime.redis)
        dispatcher.run_once()
        assert count(runtime, Outbox, Outbox.status == "sent") == 10 and len(api.sent()) == 10


def test_a_provider_that_times_out_is_retried_later_not_lost(make_runtime):
    class Slow(FakeBotAPI):
        delay = 0.0

        def respond(self, rec):
            if rec.path.endswith("/sendMessage") and self.delay:
                time.sleep(self.delay)
            return super().respond(rec)

    with Slow(TOKEN) as api:
        now = [wib(2025, 4, 8, 9, 0)]
        runtime = make_runtime(clock=lambda: now[0],
                               telegram={"token": TOKEN, "secret_token": SECRET, "api_base_url": api.url})
        client = create_app(runtime=runtime).test_client()
        client.post("/webhooks/telegram", json=message("/start", chat=901), headers=HEADERS)
        api.delay = 6.0  # longer than python-telegram-bot's 5 s read timeout
        dispatcher = Dispatcher(runtime, runtime.senders, clock=lambda: now[0], sleep=lambda s: None,
                                limits={"telegram": (0.0, 10_000)})
        dispatcher.run_once()
        with runtime.sessions() as s:
            first = s.scalars(select(Outbox).order_by(Outbox.id)).first()
            assert first.status == "pending" and first.error.startswith("network") and first.attempts == 1
        api.delay = 0.0
        now[0] += timedelta(minutes=1)
        dispatcher.run_once()
        assert count(runtime, Outbox, Outbox.status == "sent") == 2
