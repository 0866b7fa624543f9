"""The inbound workers alone under one office's flood: does a quiet office's message wait
for the flood's batches? No web tier on the same cores: two inbound loops (two runtimes,
as two `aduan worker` processes would be, in threads of this one) drain a backlog of
3,000 messages of one office on PostgreSQL while a second office gets a message every
100 ms; each figure for a message a transaction and for batches of eight.

- `flood_workers_batch_<n>_quiet_wait_p50_ms` / `_max_ms`: stored to handled, the quiet
  office's 30 messages.
- `flood_workers_batch_<n>_handled`: the flood's messages handled meanwhile (about 4 s).

    python -m bench.flood_workers
"""
from __future__ import annotations

import os
import time

from sqlalchemy import func, select

from bench.common import figure, fresh_database

PG_ADMIN = os.environ.get("ADUAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
FLOOD, QUIET = 3000, 30


def run(batch: int) -> None:
    import storage.acknowledgements as acknowledgements
    from bot.config import Settings
    from bot.runtime import Runtime
    from flows.messages import Inbound
    from storage.migrate import upgrade
    from storage.models import InboundMessage
    from storage.offices import add_office

    url = fresh_database(PG_ADMIN, "aduan_bench_flood_workers")

    def runtime():
        return Runtime(Settings.model_validate({"database": {"url": url}, "inbound": {"batch": batch}}))

    rt = runtime()
    upgrade(rt.engine)
    with rt.transaction() as s:
        quiet = add_office(s, "sepi", {"office": {"name": "Kantor Sepi"}}).id
    count = 0

    def put(office, chat):
        nonlocal count
        count += 1
        acknowledgements.store(rt.ack_engine, office, "webchat", f"m{count}",
                               Inbound("webchat", chat, f"m{count}", text="/mulai"), rt.clock())

    for n in range(FLOOD):
        put(1, f"flood-{n}")
    workers = [runtime() for _ in range(2)]
    for w in workers:
        w.inbound.start()
    time.sleep(1)
    for n in range(QUIET):
        put(quiet, f"quiet-{n}")
        time.sleep(0.1)
    for w in workers:
        w.inbound.stop()
    with rt.sessions() as s:
        rows = s.execute(select(InboundMessage.received_at, InboundMessage.handled_at)
                         .where(InboundMessage.office_id == quiet)).all()
        handled = s.scalar(select(func.count()).select_from(InboundMessage)
                           .where(InboundMessage.office_id == 1, InboundMessage.handled_at.is_not(None)))
    waits = sorted((handled_at - received).total_seconds() * 1000 if handled_at else float("inf")
                   for received, handled_at in rows)
    figure(f"flood_workers_batch_{batch}_quiet_wait_p50_ms", waits[len(waits) // 2])
    figure(f"flood_workers_batch_{batch}_quiet_wait_max_ms", waits[-1])
    figure(f"flood_workers_batch_{batch}_handled", handled)
    for r in (*workers, rt):
        r.close()


def main() -> None:
    for batch in (1, 8):
        run(batch)


if __name__ == "__main__":
    main()
