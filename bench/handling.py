"""Handling, as a citizen feels it: from the webhook to the reply in the outbox.

Each chat sends bench/conversation.py's conversation (consent, a complaint filed step by
step, /status, an unknown word and command) as authenticated Telegram updates, in order
per chat, against the production setup (gunicorn + `aduan worker` processes + PostgreSQL +
Redis) and the embedded one (`aduan run`: gunicorn with one worker, SQLite, in-process
Redis, the inbound loop in a thread of that worker), each next to a bare Flask "hello"
view on the same server setup.

- `handling_<db>_msgs_per_s`: a backlog drained. Every chat's updates are posted as fast
  as the webhook acknowledges them; the time runs from the first POST until the last
  inbound row is handled (its `handled_at`, the same instant as its replies' `created_at`:
  both are the handling's clock, in the transaction that commits them together).
- `reply_<db>_at_100_per_s_p50_ms` / `_p99_ms`: an open-loop client offers 100 updates a
  second, steadily (groups of 50 chats, each chat's next step half a second after its
  last); latency is the planned send time to the `created_at` of the message's first
  reply row (so a slow acknowledgement cannot hide queueing).
- The checks, per phase: `acked_never_handled` (a 2xx whose row is missing, unhandled or
  set aside), `order_broken` (chats whose replies are not, message by message, those of a
  reference chat that sent one message at a time, numbers and codes blanked),
  `effects_twice` (a message's replies written by two handlings, a second case of one
  chat). Goal 0 for each.
"""
from __future__ import annotations

import http.client
import os
import threading
import time
from collections import Counter, defaultdict

from sqlalchemy import create_engine, func, select

from bench.common import PY, ROOT, aware, embedded_hello, figure, free_port, fresh_database, migrate, start, stop, wait_http
from bench.conversation import STEPS, bodies, normalized
from bench.inbound import wrk

SECRET = "bench-secret"
HEADERS = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
PG_ADMIN = os.environ.get("ADUAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("ADUAN_BENCH_HANDLING_REDIS", "redis://127.0.0.1:6379/13")
CHATS = int(os.environ.get("ADUAN_BENCH_HANDLING_CHATS", "300"))  # the backlog: 14 updates each
RATE = int(os.environ.get("ADUAN_BENCH_RATE", "100"))
RATE_SECONDS = int(os.environ.get("ADUAN_BENCH_RATE_SECONDS", "20"))
WORKERS = int(os.environ.get("ADUAN_BENCH_WORKERS", "2"))  # `aduan worker` processes beside PostgreSQL
ONLY = os.environ.get("ADUAN_BENCH_ONLY", "")  # "pg" or "sqlite": one setup only
HELLO_SECONDS = int(os.environ.get("ADUAN_BENCH_HELLO_SECONDS", "5"))
SENDERS = 16  # client threads (connections); a chat always posts through the same one
GROUP = 50  # chats taking turns at the offered rate: each chat's steps GROUP / RATE seconds apart


def _post(conn, port, body) -> tuple[http.client.HTTPConnection, bool]:
    try:
        conn.request("POST", "/webhooks/telegram", body, HEADERS)
        resp = conn.getresponse()
        resp.read()
        return conn, resp.status == 200
    except OSError:
        conn.close()
        return http.client.HTTPConnection("127.0.0.1", port, timeout=30), False


def _send(port, schedule: list[list[tuple[float, bytes]]]) -> int:
    """Each list in `schedule` is one connection's (planned wall time or 0, body), in order;
    how many were acknowledged."""
    acked = [0] * len(schedule)

    def run(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for planned, body in schedule[n]:
            if planned and (delay := planned - time.time()) > 0:
                time.sleep(delay)
            conn, ok = _post(conn, port, body)
            acked[n] += ok
        conn.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(schedule))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(acked)


class Database:
    """What the benchmark reads back (its own engine: the server's tables as they are)."""

    def __init__(self, url: str):
        from storage.models import Case, CitizenIdentity, InboundMessage, Outbox

        self.engine = create_engine(url)
        self.In, self.Out, self.Case, self.Id = InboundMessage, Outbox, Case, CitizenIdentity

    def unhandled(self) -> int:
        with self.engine.connect() as c:
            return c.scalar(select(func.count()).select_from(self.In).where(self.In.handled_at.is_(None)))

    def wait_drained(self, chats: list[int], acked: int, seconds: float = 300) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            with self.engine.connect() as c:
                rows = c.scalar(select(func.count()).select_from(self.In)
                                .where(self.In.chat_id.in_([str(x) for x in chats])))
            if rows >= acked and self.unhandled() == 0:
                return
            time.sleep(0.05)

    def last_handled(self, chats: list[int]) -> float:
        with self.engine.connect() as c:
            when = c.execute(select(func.max(self.In.handled_at))
                             .where(self.In.chat_id.in_([str(x) for x in chats]))).scalar()
        return aware(when).timestamp()

    def replies(self, chats: list[int]) -> dict[str, list[list[tuple[float, str]]]]:
        """Per chat, its reply rows grouped by the handling that wrote them (one `created_at`
        each), in id order: [[(created_at, text), ...], ...]."""
        out: dict[str, list] = defaultdict(list)
        with self.engine.connect() as c:
            rows = c.execute(select(self.Out.chat_id, self.Out.created_at, self.Out.payload)
                             .where(self.Out.channel == "telegram", self.Out.chat_id.in_([str(x) for x in chats]))
                             .order_by(self.Out.id)).all()
        last: dict[str, object] = {}
        for chat, created, payload in rows:
            if last.get(chat) != created:
                out[chat].append([])
                last[chat] = created
            out[chat][-1].append((aware(created).timestamp(), payload["text"]))
        return out

    def checks(self, chats: list[int], acked: int, reference) -> dict:
        ids = [str(x) for x in chats]
        with self.engine.connect() as c:
            handled = c.scalar(select(func.count()).select_from(self.In).where(
                self.In.chat_id.in_(ids), self.In.handled_at.is_not(None), self.In.set_aside_at.is_(None)))
            cases = c.execute(select(self.Id.external_id, func.count(self.Case.id))
                              .join(self.Case, self.Case.citizen_id == self.Id.citizen_id)
                              .where(self.Id.channel == "telegram", self.Id.external_id.in_(ids))
                              .group_by(self.Id.external_id)).all()
        replies = self.replies(chats)
        order_broken = sum(1 for chat in ids if [[normalized(t) for _, t in g] for g in replies.get(chat, [])]
                           != reference)
        twice = sum(max(0, len(replies.get(chat, [])) - len(STEPS)) for chat in ids)
        twice += sum(max(0, n - 1) for _, n in cases)
        return {"acked_never_handled": max(0, acked - handled), "order_broken": order_broken,
                "effects_twice": twice, "replies": replies}


def reference(port: int, db: Database, chat: int) -> list[list[str]]:
    """One chat sending one message at a time, each after the last was handled."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for body in bodies(chat, chat * 100):
        conn, ok = _post(conn, port, body)
        assert ok, "the reference chat's update was not acknowledged"
        deadline = time.time() + 30
        while db.unhandled() and time.time() < deadline:
            time.sleep(0.01)
    conn.close()
    return [[normalized(t) for _, t in group] for group in db.replies([chat]).get(str(chat), [])]


def measure(label: str, serve_aduan, serve_hello, db_url: str) -> None:
    port = free_port()
    proc = serve_hello(port)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    wrk(port, 2, 64)  # warm up
    hello = wrk(port, HELLO_SECONDS, 64)
    stop(proc)
    hello_rate = hello["requests"] / (hello["duration_us"] / 1e6)
    figure(f"hello_{label}_req_per_s", hello_rate)

    port = free_port()
    procs = serve_aduan(port)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        db = Database(db_url)
        ref = reference(port, db, 1)
        assert len(ref) == len(STEPS), f"the reference chat got {len(ref)} replies for {len(STEPS)} messages"

        # 1. a backlog, drained: every chat's conversation as fast as it is acknowledged
        chats = list(range(10_000, 10_000 + CHATS))
        schedule = [[] for _ in range(SENDERS)]
        for n, chat in enumerate(chats):  # step by step across the chats of each connection
            schedule[n % SENDERS].append(bodies(chat, chat * 100))
        schedule = [[(0, chat_bodies[k]) for k in range(len(STEPS)) for chat_bodies in mine] for mine in schedule]
        began = time.time()
        acked = _send(port, schedule)
        db.wait_drained(chats, acked)
        took = db.last_handled(chats) - began
        rate = len(chats) * len(STEPS) / took
        figure(f"handling_{label}_msgs_per_s", rate)
        figure(f"handling_{label}_vs_hello_ratio", rate / hello_rate)
        _checks(label, "backlog", db.checks(chats, acked, ref))

        # 2. a steady offered rate: latency from the planned send time to the reply
        total = RATE * RATE_SECONDS
        chats = list(range(20_000, 20_000 + -(-total // len(STEPS))))
        slots, start_at = [], time.time() + 0.5
        for g in range(0, len(chats), GROUP):
            group = chats[g:g + GROUP]
            slots += [(chat, k) for k in range(len(STEPS)) for chat in group]
        slots = slots[:total]
        planned = {slot: start_at + i / RATE for i, slot in enumerate(slots)}
        per_chat = {chat: bodies(chat, chat * 100) for chat in chats}
        schedule = [[] for _ in range(SENDERS)]
        for chat, k in slots:
            schedule[chat % SENDERS].append((planned[chat, k], per_chat[chat][k]))
        acked = _send(port, schedule)
        sent = {c for c, _ in slots}
        db.wait_drained(sorted(sent), acked)
        result = db.checks(sorted(sent), acked, None)
        latencies = []
        for (chat, k), at in planned.items():
            groups = result["replies"].get(str(chat), [])
            latencies.append(groups[k][0][0] - at if k < len(groups) else float("inf"))
        latencies.sort()
        figure(f"reply_{label}_at_{RATE}_per_s_p50_ms", _pct(latencies, 50))
        figure(f"reply_{label}_at_{RATE}_per_s_p99_ms", _pct(latencies, 99))
        figure(f"reply_{label}_at_{RATE}_per_s_max_ms", latencies[-1] * 1000)
        # the last group's chats stop short of the whole conversation: compare what they sent
        result["order_broken"] = sum(
            1 for chat in sent
            if [[normalized(t) for _, t in g] for g in result["replies"].get(str(chat), [])]
            != ref[:sum(1 for c, _ in slots if c == chat)])
        _checks(label, f"at_{RATE}_per_s", result)
        db.engine.dispose()
    finally:
        for proc in procs:
            stop(proc)


def _checks(label: str, phase: str, result: dict) -> None:
    for key in ("acked_never_handled", "order_broken", "effects_twice"):
        figure(f"handling_{label}_{phase}_{key}", result[key])


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p / 100))] * 1000


def main() -> None:
    tmp = ROOT / "var" / "bench"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "none.toml").write_text("")
    if ONLY != "sqlite":
        production(tmp)
    if ONLY != "pg":
        embedded(tmp)


def production(tmp) -> None:
    """gunicorn (2 workers x 8 threads) + `aduan worker` processes + PostgreSQL + Redis."""
    pg = fresh_database(PG_ADMIN, "aduan_bench_handling")
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    env = {"ADUAN_DATABASE_URL": pg, "ADUAN_REDIS_URL": REDIS, "ADUAN_TELEGRAM_SECRET_TOKEN": SECRET,
           "ADUAN_CONFIG": str(tmp / "none.toml")}
    migrate(env, tmp)
    gunicorn = [PY, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "8", "--log-level", "warning"]
    measure("pg",
            lambda port: [start(gunicorn + ["-b", f"127.0.0.1:{port}", "bot.app:create_app()"], env, tmp)]
            + [start([PY, "-m", "bot", "worker"], env, tmp) for _ in range(WORKERS)],
            lambda port: start(gunicorn + ["-b", f"127.0.0.1:{port}", "bench.hello:create_app()"],
                               {"PYTHONPATH": str(ROOT)}, tmp),
            pg)


def embedded(tmp) -> None:
    """aduan run (gunicorn, one worker, the inbound loop in a thread of it) + SQLite + in-process Redis."""
    db = tmp / "bench-handling.db"
    for suffix in ("", "-wal", "-shm"):
        (tmp / f"bench-handling.db{suffix}").unlink(missing_ok=True)
    env = {"ADUAN_DATABASE_URL": f"sqlite:///{db}", "ADUAN_REDIS_URL": "memory://",
           "ADUAN_TELEGRAM_SECRET_TOKEN": SECRET, "ADUAN_CONFIG": str(tmp / "none.toml")}
    migrate(env, tmp)
    measure("sqlite",
            lambda port: [start([PY, "-m", "bot", "run", "--port", str(port), "--no-scheduler"], env, tmp)],
            lambda port: embedded_hello(port, tmp),
            f"sqlite:///{db}")


if __name__ == "__main__":
    main()
