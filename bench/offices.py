"""Ten offices on one deployment, one of them flooding: do the quiet offices notice?

The production setup (gunicorn + `aduan worker` processes + PostgreSQL + Redis), with ten
offices each behind its own Telegram webhook (/webhooks/telegram, then /webhooks/telegram/
<code>), next to a bare Flask "hello" view on the same server setup. Each message is a new
citizen's first "/start"; its latency runs from its planned send time (an open-loop client:
a slow server cannot hide its queueing) to the `created_at` of its first reply row.

- `offices_quiet_alone_reply_p50_ms` / `_p99_ms`: nine quiet offices, QUIET_RATE messages a
  second each, the tenth idle.
- `offices_quiet_flooded_reply_p50_ms` / `_p99_ms`: the same, while the tenth (the first
  office) offers FLOOD_RATE a second, more than the workers can handle: its backlog grows.
- `..._stored_p99_ms` / `..._stored_to_handled_p99_ms`: the same latency's two parts, from
  the inbound rows: planned send to stored (`received_at`: the acknowledgement) and stored
  to handled (`handled_at`: the queue and the handling).
- `offices_flood_backlog_after`: the flood's messages still unhandled when it stops (what
  the workers could not keep up with while it lasted).
- `offices_flood_workers_cpu_ms_per_handled` / `_web_cpu_ms_per_acked`: while the flood
  lasts, the CPU time of the worker processes for each message handled and of the web
  processes for each acknowledged (steadier than the latencies on a busy machine: what
  the work costs, not how long it waited).
- `offices_quiet_flooded_vs_alone_p99_ratio`: the goal is at most 2.
- `offices_acked_never_handled`: every acknowledged message is handled once the flood has
  drained (goal 0).
"""
from __future__ import annotations

import http.client
import json
import os
import threading
import time

from sqlalchemy import create_engine, func, select

from bench.common import PY, ROOT, aware, cpu_seconds, figure, free_port, fresh_database, migrate, start, stop, wait_http
from bench.inbound import wrk

PG_ADMIN = os.environ.get("ADUAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("ADUAN_BENCH_OFFICES_REDIS", "redis://127.0.0.1:6379/12")
OFFICES = 10
QUIET_RATE = float(os.environ.get("ADUAN_BENCH_QUIET_RATE", "4"))  # per quiet office, a second
FLOOD_RATE = float(os.environ.get("ADUAN_BENCH_FLOOD_RATE", "300"))
SECONDS = int(os.environ.get("ADUAN_BENCH_OFFICES_SECONDS", "20"))
WORKERS = int(os.environ.get("ADUAN_BENCH_WORKERS", "2"))
SENDERS = 24  # client connections


def secret(n: int) -> str:
    return f"bench-secret-{n}"


def path(n: int) -> str:
    return "/webhooks/telegram" if n == 1 else f"/webhooks/telegram/o{n}"


def body(uid: int, chat: int) -> bytes:
    return json.dumps({"update_id": uid, "message": {
        "message_id": uid, "date": 1, "text": "/start", "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "Warga", "language_code": "id"}}}).encode()


def plan(offices: list[int], rate: float, seconds: float, began: float, base: int) -> list[tuple]:
    """(planned time, office, chat, body) at `rate` a second for each office: a new chat each."""
    out, step = [], 1.0 / rate
    for office in offices:
        for i in range(int(rate * seconds)):
            chat = base + office * 1_000_000 + i
            out.append((began + (i + office / OFFICES) * step, office, chat, body(chat, chat)))
    return sorted(out)


def send(port: int, messages: list[tuple]) -> int:
    """Post them at their planned times over SENDERS connections; how many got a 200."""
    acked = [0] * SENDERS

    def run(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for planned, office, _chat, payload in messages[n::SENDERS]:
            if (delay := planned - time.time()) > 0:
                time.sleep(delay)
            try:
                conn.request("POST", path(office), payload, {
                    "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret(office)})
                resp = conn.getresponse()
                resp.read()
                acked[n] += resp.status == 200
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(acked)


def replies(engine, messages: list[tuple], wait: float = 120) -> list[float]:
    """Latency in ms of each message's first reply (inf: none within `wait` seconds)."""
    from storage.models import Outbox

    wanted = {str(chat): planned for planned, _office, chat, _ in messages}
    deadline, first = time.time() + wait, {}
    while time.time() < deadline and len(first) < len(wanted):
        with engine.connect() as c:
            for chat, created in c.execute(select(Outbox.chat_id, func.min(Outbox.created_at))
                                           .where(Outbox.chat_id.in_(list(wanted)))
                                           .group_by(Outbox.chat_id)):
                first[chat] = aware(created).timestamp()
        time.sleep(0.2)
    return sorted((first[c] - wanted[c]) * 1000 if c in first else float("inf") for c in wanted)


def stages(engine, messages: list[tuple]) -> tuple[list[float], list[float]]:
    """Per message, in ms, sorted: planned send to stored (`received_at`: the acknowledgement's
    share), and stored to handled (`handled_at`: the queue's and the handling's share)."""
    from storage.models import InboundMessage

    wanted = {str(chat): planned for planned, _office, chat, _ in messages}
    acked, queued = [], []
    with engine.connect() as c:
        for chat, received, handled in c.execute(select(InboundMessage.chat_id, InboundMessage.received_at,
                                                        InboundMessage.handled_at)
                                                 .where(InboundMessage.chat_id.in_(list(wanted)))):
            received, handled = (aware(when).timestamp() for when in (received, handled))
            acked.append((received - wanted[chat]) * 1000)
            queued.append((handled - received) * 1000)
    return sorted(acked), sorted(queued)


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def unhandled(engine) -> int:
    from storage.models import InboundMessage

    with engine.connect() as c:
        return c.scalar(select(func.count()).select_from(InboundMessage).where(InboundMessage.handled_at.is_(None)))


def main() -> None:
    tmp = ROOT / "var" / "bench"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "none.toml").write_text("")
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    pg = fresh_database(PG_ADMIN, "aduan_bench_offices")
    env = {"ADUAN_DATABASE_URL": pg, "ADUAN_REDIS_URL": REDIS, "ADUAN_TELEGRAM_SECRET_TOKEN": secret(1),
           "ADUAN_CONFIG": str(tmp / "none.toml"), "PYTHONPATH": str(ROOT)}
    for n in range(2, OFFICES + 1):  # each office's own webhook secret, from the environment
        env[f"ADUAN_OFFICE_O{n}_TELEGRAM_SECRET_TOKEN"] = secret(n)
    migrate(env, tmp)
    import subprocess

    for n in range(2, OFFICES + 1):
        subprocess.run([PY, "-m", "bot", "office", "add", f"o{n}", "--name", f"Kantor {n}"],
                       env={**os.environ, **env}, cwd=tmp, check=True, capture_output=True)
    gunicorn = [PY, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "8", "--log-level", "warning"]

    port = free_port()
    hello = start(gunicorn + ["-b", f"127.0.0.1:{port}", "bench.hello:create_app()"], {"PYTHONPATH": str(ROOT)}, tmp)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    wrk(port, 2, 64)
    r = wrk(port, 5, 64)
    stop(hello)
    figure("hello_offices_req_per_s", r["requests"] / (r["duration_us"] / 1e6))

    port = free_port()
    procs = [start(gunicorn + ["-b", f"127.0.0.1:{port}", "bot.app:create_app()"], env, tmp)]
    procs += [start([PY, "-m", "bot", "worker"], env, tmp) for _ in range(WORKERS)]
    engine = create_engine(pg)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        quiet = list(range(2, OFFICES + 1))
        warm = plan(quiet, QUIET_RATE, 3, time.time() + 0.5, 100_000_000)
        acked = send(port, warm)
        replies(engine, warm)

        alone = plan(quiet, QUIET_RATE, SECONDS, time.time() + 0.5, 200_000_000)
        acked += send(port, alone)
        got = replies(engine, alone)
        figure("offices_quiet_alone_reply_p50_ms", pct(got, 50))
        figure("offices_quiet_alone_reply_p99_ms", pct(got, 99))
        acks, queued = stages(engine, alone)
        figure("offices_quiet_alone_stored_p99_ms", pct(acks, 99))
        figure("offices_quiet_alone_stored_to_handled_p99_ms", pct(queued, 99))

        began = time.time() + 0.5
        flooded = plan(quiet, QUIET_RATE, SECONDS, began, 300_000_000)
        flood = plan([1], FLOOD_RATE, SECONDS, began, 400_000_000)
        cpu = [cpu_seconds(p.pid) for p in procs]
        flood_acked = send(port, sorted(flooded + flood))
        acked += flood_acked
        got_flooded = replies(engine, flooded)
        cpu = [cpu_seconds(p.pid) - before for p, before in zip(procs, cpu)]
        backlog = unhandled(engine)
        figure("offices_flood_offered_per_s", FLOOD_RATE)
        figure("offices_flood_backlog_after", backlog)
        figure("offices_flood_workers_cpu_ms_per_handled", sum(cpu[1:]) * 1000 / max(1, flood_acked - backlog))
        figure("offices_flood_web_cpu_ms_per_acked", cpu[0] * 1000 / max(1, flood_acked))
        figure("offices_quiet_flooded_reply_p50_ms", pct(got_flooded, 50))
        figure("offices_quiet_flooded_reply_p99_ms", pct(got_flooded, 99))
        acks, queued = stages(engine, flooded)
        figure("offices_quiet_flooded_stored_p99_ms", pct(acks, 99))
        figure("offices_quiet_flooded_stored_to_handled_p99_ms", pct(queued, 99))
        figure("offices_quiet_flooded_vs_alone_p99_ratio", pct(got_flooded, 99) / max(1e-9, pct(got, 99)))
        deadline = time.time() + 600
        while unhandled(engine) and time.time() < deadline:
            time.sleep(0.5)
        from storage.models import InboundMessage

        with engine.connect() as c:
            handled = c.scalar(select(func.count()).select_from(InboundMessage).where(
                InboundMessage.handled_at.is_not(None), InboundMessage.set_aside_at.is_(None)))
        figure("offices_acked_never_handled", max(0, acked - handled))
    finally:
        for p in procs:
            stop(p)
        engine.dispose()


if __name__ == "__main__":
    main()
