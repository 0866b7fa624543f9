"""The cost of handling one message, in this process: bench/conversation.py's conversation
from many chats is stored (as the webhook does), then drained by the inbound loop.
Figures: wall and CPU microseconds a message, on SQLite and on PostgreSQL; with
`--profile` the cProfile table of the drain (by own time and by cumulative time).

    python -m bench.profile_handling [--profile] [--chats 100] [--only sqlite|pg] [--batch 8]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time

from bench.common import figure, fresh_database
from bench.conversation import STEPS, updates

PG_ADMIN = os.environ.get("ADUAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def runtime_on(url: str):
    from bot.config import Settings
    from bot.runtime import Runtime
    from storage.migrate import upgrade

    rt = Runtime(Settings.model_validate({"database": {"url": url}, "telegram": {"secret_token": "s"}}))
    upgrade(rt.engine)
    return rt


def run(label: str, url: str, chats: int, profile: bool, lean: bool = True, batch: int = 8) -> None:
    from bot.channels.telegram import parse_update

    rt = runtime_on(url)
    rt.inbound.lean, rt.inbound.batch = lean, batch
    # warm up: the first message of a process builds caches (workflow, locale files, statements)
    for u in updates(1, 100):
        rt.receive("telegram", *parse_update(u)[:2], u)
    rt.inbound.drain()
    for chat in range(1000, 1000 + chats):
        for u in updates(chat, chat * 100):
            uid, inbound, _ = parse_update(u)
            rt.receive("telegram", uid, inbound, u)
    count = chats * len(STEPS)
    prof = cProfile.Profile() if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    done = rt.inbound.drain()
    if prof:
        prof.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert done == count, f"handled {done} of {count}"
    figure(f"handle_{label}_wall_us_per_msg", wall / count * 1e6)
    figure(f"handle_{label}_cpu_us_per_msg", cpu / count * 1e6)
    if prof:
        stats = pstats.Stats(prof)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(60)
    rt.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--only", choices=("sqlite", "pg"))
    parser.add_argument("--batch", type=int, default=8, help="chats a transaction (inbound.batch)")
    parser.add_argument("--reference", action="store_true",
                        help="also the reference path (context query by query, replies one by one)")
    args = parser.parse_args()
    os.chdir(tempfile.mkdtemp())
    for lean in (True, False) if args.reference else (True,):
        suffix = ("" if lean else "_reference") + (f"_batch_{args.batch}" if args.batch != 8 else "")
        if args.only != "pg":
            run(f"sqlite{suffix}", f"sqlite:///{os.getcwd()}/profile{suffix}.db", args.chats, args.profile, lean,
                args.batch)
        if args.only != "sqlite":
            run(f"pg{suffix}", fresh_database(PG_ADMIN, "aduan_bench_profile"), args.chats, args.profile, lean,
                args.batch)


if __name__ == "__main__":
    main()
