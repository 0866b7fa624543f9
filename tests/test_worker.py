"""`aduan worker`: RQ jobs drain the outbox (in-process Redis, and real Redis when configured)."""
import pytest
from rq import Queue
from sqlalchemy import select

from bot.app import create_app
from bot.worker import QUEUE, enqueue_drain, rq_connection, run_worker
from storage.models import Outbox
from tests.conftest import REDIS_BACKENDS, REDIS_URL
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_telegram import HEADERS, SECRET, TOKEN, message


@pytest.mark.parametrize("backend", REDIS_BACKENDS)
def test_the_worker_sends_what_the_web_process_queued(make_runtime, backend):
    url = REDIS_URL if backend == "redis" else "memory://"
    with FakeBotAPI(TOKEN) as api:
        web = make_runtime(redis={"url": url}, telegram={"token": TOKEN, "secret_token": SECRET,
                                                         "api_base_url": api.url})
        queue = Queue(QUEUE, connection=rq_connection(url))
        queue.empty()
        client = create_app(runtime=web).test_client()
        assert client.post("/webhooks/telegram", json=message("/start", chat=4242), headers=HEADERS).status_code == 200
        if backend == "redis":
            assert queue.count == 1  # the web process nudged the workers through RQ
        else:
            enqueue_drain(queue.connection, 1, "telegram", "4242")  # one process: queue it by hand
        run_worker(web, burst=True)
        assert [p["text"][:20] for p in api.sent()] == ["Selamat datang di la", "Sebelum mulai, mohon"]
        with web.sessions() as s:
            assert {r.status for r in s.scalars(select(Outbox))} == {"sent"}
