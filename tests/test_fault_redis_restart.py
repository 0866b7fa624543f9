"""A real redis-server that hangs (SIGSTOP), then is killed and started again later, in the
production layout (a web process that only takes webhooks and nudges the workers through
RQ; a worker whose sweep sends the outbox): intake keeps answering fast all along, the
app finds Redis again by itself, and the backlog drains afterwards, in order, once."""
import signal
import time

from rq import Queue
from sqlalchemy import select

from bot.app import create_app
from bot.worker import QUEUE, rq_connection
from storage.models import InboundMessage, Outbox
from tests.faults import LoggingBotAPI, needs_redis_server, reconcile, redis_server  # noqa: F401
from tests.test_telegram import HEADERS, SECRET, TOKEN, message

FAST = 2.0  # seconds: a webhook is answered well inside the provider's timeout


def wait_until(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@needs_redis_server
def test_redis_hung_then_killed_and_restarted_intake_answers_fast_and_the_backlog_drains(
        make_runtime, redis_server):
    """Webhooks before, during (hung, then gone) and after the outage are each answered in
    under 2 s; the rows wait in the database while Redis is away; after the restart both
    processes reconnect and every row is sent, once, in order; every 200 has its row."""
    with LoggingBotAPI(TOKEN) as api:
        sections = {"redis": {"url": redis_server.url},
                    "telegram": {"token": TOKEN, "secret_token": SECRET, "api_base_url": api.url}}
        web = make_runtime(**sections)  # as `aduan run --no-worker`: new rows go out as RQ jobs
        worker = make_runtime(**sections)
        worker.outbound.start()  # as `aduan worker`: its sweep drains whatever is due
        client = create_app(runtime=web).test_client()
        answers: dict[str, list[tuple[int, int, float]]] = {"up": [], "hung": [], "down": [], "back": []}

        def deliver(phase, update):
            started = time.monotonic()
            status = client.post("/webhooks/telegram", json=update, headers=HEADERS).status_code
            answers[phase].append((update["update_id"], status, time.monotonic() - started))
            return status

        def rows(*where):
            with web.sessions() as s:
                return s.execute(select(Outbox.id, Outbox.chat_id, Outbox.provider_message_id)
                                 .where(*where)).all()

        def healthz():
            started = time.monotonic()
            status = client.get("/healthz").status_code
            return status, time.monotonic() - started

        for n in range(3):
            assert deliver("up", message("/start", chat=8100 + n)) == 200
        assert Queue(QUEUE, connection=rq_connection(redis_server.url)).count == 3  # one nudge per chat
        wait_until(lambda: not rows(Outbox.status != "sent"), 15, "the first messages to go out")

        # Redis hangs: connections open, nothing answers
        redis_server.proc.send_signal(signal.SIGSTOP)
        pending = [message("/start", chat=8100 + n) for n in (3, 4)]
        for update in pending:
            assert deliver("hung", update) in (200, 503)
        # then it is gone altogether: new conversations and follow-ups in the earlier ones
        redis_server.kill()
        more = [message("/start", chat=8100 + n) for n in (5, 6, 7)] + [message("halo", chat=8100 + n)
                                                                         for n in range(3)]
        for update in more:
            assert deliver("down", update) in (200, 503)
        pending += more
        health_down, health_took = healthz()
        assert health_down == 503 and health_took < FAST  # degraded, and says so at once
        time.sleep(1.5)  # the worker's sweep goes round against the missing Redis
        backlog = len(rows(Outbox.status == "pending"))
        assert backlog > 0  # held back until Redis is there: the rows wait in the database

        redis_server.start()  # the same port, empty: no locks, no queued jobs, no rate windows
        # the provider retries what was not acknowledged; more traffic arrives
        first_answer = {i: s for phase in ("hung", "down") for i, s, _ in answers[phase]}
        retried = [u for u in pending if first_answer[u["update_id"]] != 200]
        for update in retried + [message("/start", chat=8100 + n) for n in (8, 9)]:
            assert deliver("back", update) == 200
        assert healthz()[0] == 200  # both processes reconnect by themselves, nothing restarted
        wait_until(lambda: not rows(Outbox.status != "sent"), 20, "the backlog to drain")

        timings = {phase: max(took for *_, took in got) for phase, got in answers.items()}
        assert max(timings.values()) < FAST, answers
        acked = {str(i) for got in answers.values() for i, s, _ in got if s == 200}
        with web.sessions() as s:
            stored = s.scalars(select(InboundMessage.provider_message_id).order_by(InboundMessage.id)).all()
        assert sorted(stored) == sorted(acked)  # every acknowledged update is stored, once
        sent = rows()
        duplicates = reconcile(sent, api.log)  # every row accepted, in order per chat
        assert duplicates == 0  # no worker died: nothing was sent twice
        failed = {phase: sum(s != 200 for _, s, _ in answers[phase]) for phase in ("hung", "down")}
        print(f"\nredis hung/killed/restarted: answers not 200 while hung {failed['hung']}/"
              f"{len(answers['hung'])}, while gone {failed['down']}/{len(answers['down'])}; slowest answer "
              + ", ".join(f"{phase} {t:.2f} s" for phase, t in timings.items())
              + f"; backlog {backlog} rows; after the restart all {len(sent)} rows sent, "
              f"{duplicates} duplicates")
