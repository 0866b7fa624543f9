"""Memory: resident memory of one web worker (gunicorn, one gthread worker) and of one
`aduan worker` process, before and after 10,000 citizen messages over WhatsApp. The web
worker stores each message and its replies; the worker sends the replies to a fake
Twilio API. Next to them, a bare Flask "hello" view on the same gunicorn setup after as
many requests. WhatsApp, because Twilio's per-sender rate is configurable (400/s here):
Telegram's 30 messages a second overall would make the worker's part take ten minutes."""
from __future__ import annotations

import http.client
import os
import threading
import time
import urllib.parse
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.common import PY, ROOT, figure, free_port, fresh_database, migrate, start, stop, wait_http

MESSAGES = int(os.environ.get("ADUAN_BENCH_MESSAGES", "10000"))
WARM_UP = 500
CITIZENS = max(1, MESSAGES // 5)
THREADS = 16
PG_ADMIN = os.environ.get("ADUAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("ADUAN_BENCH_REDIS", "redis://127.0.0.1:6379/12")
SID, AUTH, FROM = "AC" + "1" * 32, "bench-twilio-auth", "+14155238886"
TEXTS = ["halo", "1", "Jalan depan kantor kelurahan rusak dan berlubang sejak dua minggu lalu",
         "Mohon informasi jadwal layanan", "terima kasih"]


def rss_mb(pid: int) -> float:
    """Resident memory of one process (not its children), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def gunicorn_worker(master: int) -> int:
    """The pid of the one worker a `gunicorn -w 1` master runs."""
    for _ in range(100):
        kids = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if kids:
            return int(kids[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


def send(port: int, first: int, count: int, public_url: str) -> int:
    """Post `count` signed Twilio webhooks from THREADS keep-alive connections; returns the
    non-2xx count."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(AUTH)
    failed, lock = [0], threading.Lock()

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for n in range(first + k, first + count, THREADS):
            citizen = f"+6281{n % CITIZENS:09d}"
            params = {"MessageSid": f"SM{n:032d}", "AccountSid": SID, "From": f"whatsapp:{citizen}",
                      "To": f"whatsapp:{FROM}", "NumMedia": "0", "ProfileName": "Warga",
                      "WaId": citizen[1:], "Body": TEXTS[(n // CITIZENS) % len(TEXTS)]}
            conn.request("POST", "/webhooks/whatsapp", urllib.parse.urlencode(params), {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": validator.compute_signature(public_url, params)})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                with lock:
                    failed[0] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failed[0]


def drained(db_url: str, seconds: float = 600) -> tuple[int, int]:
    """Wait until no outbox row is pending; returns (sent, not sent)."""
    engine = create_engine(db_url)
    deadline = time.time() + seconds
    try:
        while time.time() < deadline:
            with engine.connect() as c:
                counts = dict(c.execute(text("SELECT status, count(*) FROM outbox GROUP BY status")).all())
            if not counts.get("pending"):
                return counts.get("sent", 0), sum(counts.values()) - counts.get("sent", 0)
            time.sleep(1)
        raise RuntimeError(f"the outbox did not drain: {counts}")
    finally:
        engine.dispose()


def main() -> None:
    import redis

    from tests.fakes.twilio_api import FakeTwilioAPI

    tmp = ROOT / "var" / "bench"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "none.toml").write_text("")
    gunicorn = [PY, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "8", "--log-level", "warning"]

    public_url = "https://aduan.example.go.id/webhooks/whatsapp"  # as behind a TLS-terminating proxy
    port = free_port()
    hello = start(gunicorn + ["-b", f"127.0.0.1:{port}", "bench.hello:create_app()"], {"PYTHONPATH": str(ROOT)}, tmp)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    send(port, 0, WARM_UP, public_url)
    worker_pid = gunicorn_worker(hello.pid)
    figure("memory_hello_web_worker_start_mb", rss_mb(worker_pid))
    send(port, WARM_UP, MESSAGES, public_url)
    figure(f"memory_hello_web_worker_after_{MESSAGES}_mb", rss_mb(worker_pid))
    stop(hello)

    db_url = fresh_database(PG_ADMIN, "aduan_memory")
    redis.Redis.from_url(REDIS).flushdb()
    with FakeTwilioAPI(SID) as api:
        api.requests = _Forgetful()  # ten thousands of sends: the fake need not keep them
        port = free_port()
        env = {"ADUAN_DATABASE_URL": db_url, "ADUAN_REDIS_URL": REDIS, "ADUAN_CONFIG": str(tmp / "none.toml"),
               "ADUAN_WHATSAPP_ACCOUNT_SID": SID, "ADUAN_WHATSAPP_AUTH_TOKEN": AUTH,
               "ADUAN_WHATSAPP_FROM_NUMBER": FROM, "ADUAN_WHATSAPP_PUBLIC_URL": public_url,
               "ADUAN_WHATSAPP_API_BASE_URL": api.url, "ADUAN_WHATSAPP_MESSAGES_PER_SECOND": "400"}
        migrate(env, tmp)
        web = start(gunicorn + ["-b", f"127.0.0.1:{port}", "bot.app:create_app()"], env, tmp)
        worker = start([PY, "-m", "bot", "worker"], env, tmp)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            web_pid = gunicorn_worker(web.pid)
            failed = send(port, 0, WARM_UP, public_url)
            drained(db_url)
            figure("memory_web_worker_start_mb", rss_mb(web_pid))
            figure("memory_outbound_worker_start_mb", rss_mb(worker.pid))
            started = time.perf_counter()
            failed += send(port, WARM_UP, MESSAGES, public_url)
            took = time.perf_counter() - started
            sent, unsent = drained(db_url)
            figure(f"memory_web_worker_after_{MESSAGES}_mb", rss_mb(web_pid))
            figure(f"memory_outbound_worker_after_{MESSAGES}_mb", rss_mb(worker.pid))
            figure("memory_messages_in", MESSAGES)
            figure("memory_messages_in_per_s", MESSAGES / took)
            figure("memory_messages_non2xx", failed)
            figure("memory_replies_sent", sent)
            figure("memory_replies_not_sent", unsent)
        finally:
            stop(web)
            stop(worker)


class _Forgetful(list):
    """A request log that keeps nothing (the fake server appends every request to it)."""

    def append(self, item) -> None:
        pass


if __name__ == "__main__":
    main()
