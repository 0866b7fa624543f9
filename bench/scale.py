"""At scale: 1,000,000 open cases bulk-loaded into PostgreSQL. The scheduler's due query,
claiming and writing 1,000 reminders, Redis memory used for scheduling, the monthly
report over the million, and `cases export` streaming them (peak memory)."""
from __future__ import annotations

import os
import resource
import subprocess
import time
from datetime import datetime, timezone

import redis
from sqlalchemy import create_engine, text

from bench.common import PY, ROOT, figure, fresh_database, migrate

N = int(os.environ.get("ADUAN_BENCH_CASES", "1000000"))
PG_ADMIN = os.environ.get("ADUAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("ADUAN_BENCH_REDIS", "redis://127.0.0.1:6379/14")
MONTH_START = datetime(2025, 4, 1, tzinfo=timezone.utc)


def load(url: str) -> None:
    """Bulk-load with generate_series: cases opened across April 2025, one open stage clock
    each, an opening event each, and a third of them answered."""
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text(f"""
            INSERT INTO cases (ticket, kind, category, channel, text, privacy, state, workflow, language,
                               created_at, updated_at, version)
            SELECT 'ADU-2025-' || lpad(g::text, 7, '0'),
                   (ARRAY['pengaduan','aspirasi','permintaan_informasi'])[1 + g % 3], NULL,
                   (ARRAY['telegram','whatsapp','webchat'])[1 + g % 3], 'Keluhan nomor ' || g, 'biasa',
                   CASE WHEN g % 3 = 0 THEN 'answered' ELSE 'received' END, 'sp4n-lapor', 'id',
                   timestamptz '2025-04-01 01:00+00' + (g % 2500000) * interval '1 second',
                   timestamptz '2025-04-01 01:00+00' + (g % 2500000) * interval '1 second', 1
            FROM generate_series(1, {N}) g"""))
        c.execute(text("""
            INSERT INTO deadlines (case_id, kind, stage, sla, started_at, due_at, paused_seconds,
                                   next_remind_at, thresholds, fired)
            SELECT id, 'stage', state, '3 working days', created_at, created_at + interval '4 days', 0,
                   created_at + interval '2 days', '[0.5, 0.8, 1.0]', '[]' FROM cases"""))
        c.execute(text("""
            INSERT INTO case_events (case_id, at, actor_type, action, to_state, public)
            SELECT id, created_at, 'citizen', 'open', 'received', true FROM cases"""))
        c.execute(text("""
            INSERT INTO case_events (case_id, at, actor_type, action, from_state, to_state, public)
            SELECT id, created_at + interval '3 days', 'officer', 'answer', 'in_progress', 'answered', true
            FROM cases WHERE state = 'answered'"""))
        # Who the reminders go to: a citizen with a Telegram chat per case (the answered
        # cases remind their citizen), and two admins on Telegram (the received ones).
        c.execute(text("""
            INSERT INTO citizens (id, language, consent_at, created_at)
            SELECT id, 'id', created_at, created_at FROM cases"""))
        c.execute(text("SELECT setval('citizens_id_seq', (SELECT max(id) FROM citizens))"))
        c.execute(text("""
            INSERT INTO citizen_identities (citizen_id, channel, external_id)
            SELECT id, 'telegram', (100000000 + id)::text FROM citizens"""))
        c.execute(text("UPDATE cases SET citizen_id = id"))
        for n in (1, 2):
            officer = c.execute(text("""
                INSERT INTO officers (name, role, active, language, enrolled_at, created_at)
                VALUES (:name, 'admin', true, 'id', now(), now()) RETURNING id"""), {"name": f"Admin {n}"}).scalar()
            c.execute(text("INSERT INTO officer_identities (officer_id, channel, external_id) "
                           "VALUES (:o, 'telegram', :chat)"), {"o": officer, "chat": str(900 + n)})
    with engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    engine.dispose()


def main() -> None:
    url = fresh_database(PG_ADMIN, "aduan_scale")
    tmp = ROOT / "var" / "bench"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "none.toml").write_text("")
    env = {**os.environ, "ADUAN_DATABASE_URL": url, "ADUAN_REDIS_URL": REDIS, "ADUAN_CONFIG": str(tmp / "none.toml")}
    migrate(env, tmp)
    t0 = time.perf_counter()
    load(url)
    figure("scale_cases", N)
    figure("scale_load_s", time.perf_counter() - t0)

    os.environ.update({k: v for k, v in env.items() if k.startswith("ADUAN_")})
    from bot.config import load_settings
    from bot.runtime import Runtime
    from bot.scheduler import BATCH, Scheduler

    r = redis.Redis.from_url(REDIS)
    r.flushdb()
    before = r.info("memory")["used_memory"]
    now = MONTH_START.replace(day=10, hour=3)  # a Thursday morning: many reminders due
    runtime = Runtime(load_settings(), clock=lambda: now)
    engine = runtime.engine
    with engine.connect() as c:
        due_sql = text("SELECT id FROM deadlines WHERE completed_at IS NULL AND next_remind_at <= :now "
                       "ORDER BY next_remind_at LIMIT 200")
        c.execute(due_sql, {"now": now}).all()
        t = time.perf_counter()
        for _ in range(20):
            c.execute(due_sql, {"now": now}).all()
        figure("scheduler_due_query_ms", (time.perf_counter() - t) / 20 * 1000)
        plan = "\n".join(row[0] for row in c.execute(text("EXPLAIN " + due_sql.text), {"now": now}))
    figure("scheduler_due_query_uses_index", int("Index" in plan))

    scheduler = Scheduler(runtime, clock=lambda: now)
    with engine.connect() as c:
        ids = [i for (i,) in c.execute(text("SELECT id FROM deadlines WHERE completed_at IS NULL AND "
                                            "next_remind_at <= :now ORDER BY next_remind_at LIMIT 1000"),
                                       {"now": now})]
    t = time.perf_counter()
    sent = 0
    for start in range(0, len(ids), BATCH):  # exactly what a tick does: lock, claim, write, per batch
        sent += scheduler.remind_batch(ids[start:start + BATCH], now)
    figure("scheduler_1000_reminders_s", time.perf_counter() - t)
    figure("scheduler_reminders_claimed", sent)
    with engine.connect() as c:
        figure("scheduler_reminder_messages_written", c.scalar(text("SELECT count(*) FROM outbox")))
    scheduler.leader.acquire()  # the leader lock is all the scheduler keeps in Redis
    figure("scheduler_redis_memory_bytes", max(0, r.info("memory")["used_memory"] - before))

    from storage.reporting import figures

    t = time.perf_counter()
    with runtime.sessions() as s:
        f = figures(s, runtime.workflow, runtime.calendar, MONTH_START, MONTH_START.replace(month=5))
    figure("monthly_report_figures_s", time.perf_counter() - t)
    figure("monthly_report_cases_counted", f.total)

    t = time.perf_counter()
    subprocess.run([PY, "-m", "bot", "cases", "export", "--format", "jsonl", "-o", "/dev/null"],
                   env=env, cwd=tmp, capture_output=True, check=True)  # a failed export measures nothing
    figure("cases_export_s", time.perf_counter() - t)
    figure("cases_export_peak_rss_mb", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    runtime.close()


if __name__ == "__main__":
    main()
