"""Inbound: valid, authenticated Telegram updates from thousands of distinct chats,
against the production setup (gunicorn + PostgreSQL + Redis) and the embedded one
(`aduan run`: gunicorn with one worker + SQLite + in-process Redis), each next to a bare Flask "hello" view on the
same server setup. Afterwards every 2xx is checked to have its inbound row. A webhook
acknowledges (stores the update and answers); the production web processes never handle,
`aduan run` handles in a thread beside its server, and `sqlite_ack_only` is `aduan run
--no-worker`: the acknowledgement alone."""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
import time

from sqlalchemy import create_engine, text

from bench.common import PY, ROOT, embedded_hello, figure, free_port, fresh_database, migrate, start, stop, wait_http

SECRET = "bench-secret"
SECONDS = int(os.environ.get("ADUAN_BENCH_SECONDS", "15"))
PG_ADMIN = os.environ.get("ADUAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("ADUAN_BENCH_REDIS", "redis://127.0.0.1:6379/14")


def wrk(port: int, seconds: int, connections: int) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
                          str(ROOT / "bench" / "telegram_updates.lua"), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, env={**os.environ, "ADUAN_BENCH_SECRET": SECRET},
                         check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    parts = line.split()[1:]
    return {parts[i]: int(parts[i + 1]) for i in range(0, len(parts), 2)}


def at_rate(port: int, rate: int, seconds: int, connections: int = 25) -> list[float]:
    """An open-loop client: `rate` updates a second, latency measured from the planned
    send time (so a slow server cannot hide its queueing)."""
    latencies, lock = [], threading.Lock()
    per_conn = rate / connections
    start_at = time.perf_counter() + 0.5

    def worker(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(int(per_conn * seconds)):
            planned = start_at + (i + n / connections) / per_conn
            delay = planned - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            uid = 9_000_000_000 + n * 1_000_000 + i
            body = json.dumps({"update_id": uid, "message": {
                "message_id": i, "date": 1, "text": "Mohon informasi jadwal layanan",
                "chat": {"id": 5_000_000 + n * 1000 + i % 200, "type": "private"},
                "from": {"id": 5_000_000 + n * 1000 + i % 200, "is_bot": False, "first_name": "R"}}})
            try:
                conn.request("POST", "/webhooks/telegram", body, {
                    "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except OSError:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                ok = False
            with lock:
                latencies.append((time.perf_counter() - planned) if ok else float("inf"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(latencies)


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p / 100))] * 1000


def measure(label: str, serve_aduan, serve_hello, db_url: str) -> None:
    port = free_port()
    proc = serve_hello(port)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    wrk(port, 3, 64)  # warm up
    hello = wrk(port, SECONDS, 64)
    stop(proc)
    figure(f"hello_{label}_req_per_s", hello["requests"] / (hello["duration_us"] / 1e6))
    port = free_port()
    proc = serve_aduan(port)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    r = wrk(port, SECONDS, 64)
    engine = create_engine(db_url)
    with engine.connect() as c:
        rows = c.scalar(text("SELECT count(*) FROM inbound_messages"))
    rate = r["requests"] / (r["duration_us"] / 1e6)
    figure(f"inbound_{label}_msgs_per_s", rate)
    figure(f"inbound_{label}_vs_hello_ratio", rate / (hello["requests"] / (hello["duration_us"] / 1e6)))
    figure(f"inbound_{label}_p50_ms", r["p50_us"] / 1000)
    figure(f"inbound_{label}_p99_ms", r["p99_us"] / 1000)
    figure(f"inbound_{label}_p999_ms", r["p999_us"] / 1000)
    figure(f"inbound_{label}_non2xx", r["non2xx"] + r["connect_err"] + r["timeout"])
    acked = r["requests"] - r["non2xx"] - r["timeout"]
    figure(f"inbound_{label}_2xx_without_row", max(0, acked - rows))
    latencies = at_rate(port, 500, 10)
    figure(f"inbound_{label}_at_500_per_s_p99_ms", pct(latencies, 99))
    figure(f"inbound_{label}_at_500_per_s_failed", sum(1 for x in latencies if x == float("inf")))
    stop(proc)
    engine.dispose()


def main() -> None:
    tmp = ROOT / "var" / "bench"
    tmp.mkdir(parents=True, exist_ok=True)
    # production: gunicorn (2 workers x 8 threads) + PostgreSQL + Redis
    pg = fresh_database(PG_ADMIN, "aduan_bench")
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    env = {"ADUAN_DATABASE_URL": pg, "ADUAN_REDIS_URL": REDIS, "ADUAN_TELEGRAM_SECRET_TOKEN": SECRET,
           "ADUAN_CONFIG": str(tmp / "none.toml")}
    (tmp / "none.toml").write_text("")
    migrate(env, tmp)
    gunicorn = [PY, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "8", "--log-level", "warning"]
    measure("pg",
            lambda port: start(gunicorn + ["-b", f"127.0.0.1:{port}", "bot.app:create_app()"], env, tmp),
            lambda port: start(gunicorn + ["-b", f"127.0.0.1:{port}", "bench.hello:create_app()"],
                               {"PYTHONPATH": str(ROOT)}, tmp),
            pg)
    # embedded: aduan run (gunicorn, one worker of 8 threads) + SQLite + in-process Redis
    db = tmp / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        (tmp / f"bench.db{suffix}").unlink(missing_ok=True)
    env = {"ADUAN_DATABASE_URL": f"sqlite:///{db}", "ADUAN_REDIS_URL": "memory://",
           "ADUAN_TELEGRAM_SECRET_TOKEN": SECRET, "ADUAN_CONFIG": str(tmp / "none.toml")}
    migrate(env, tmp)
    measure("sqlite",
            lambda port: start([PY, "-m", "bot", "run", "--port", str(port), "--no-scheduler"], env, tmp),
            lambda port: embedded_hello(port, tmp),
            f"sqlite:///{db}")
    # embedded, acknowledgement only: the same server with no inbound loop beside it (the
    # webhook stores and answers; nothing handles), on a database of its own. The "pg" run
    # above is acknowledgement-only already: gunicorn's web processes never handle.
    db = tmp / "bench-ack.db"
    for suffix in ("", "-wal", "-shm"):
        (tmp / f"bench-ack.db{suffix}").unlink(missing_ok=True)
    env = dict(env, ADUAN_DATABASE_URL=f"sqlite:///{db}")
    migrate(env, tmp)
    measure("sqlite_ack_only",
            lambda port: start([PY, "-m", "bot", "run", "--port", str(port), "--no-scheduler", "--no-worker"],
                               env, tmp),
            lambda port: embedded_hello(port, tmp),
            f"sqlite:///{db}")


if __name__ == "__main__":
    main()
