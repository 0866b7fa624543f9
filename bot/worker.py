"""The workers of `aduan worker` (production): the inbound loop (bot.inbound) in a thread,
and RQ jobs that drain one chat's outbox, plus a sweep that finds anything a lost job
left behind.

Jobs run in the worker's own process (RQ's SimpleWorker, no fork per job), so each
worker process keeps one long-lived event loop and one initialized Telegram Bot.
The outbox rows are the truth; a job is only a nudge, so Redis losing jobs loses
nothing: the sweep sends the rows anyway.
"""
from __future__ import annotations

import logging
import threading

import redis
from rq import Queue, SimpleWorker

from storage.redis_store import MEMORY_URL

log = logging.getLogger(__name__)
QUEUE = "aduan-outbound"
_runtime = None  # the runtime of this worker process, set by run_worker()


def rq_connection(url: str) -> redis.Redis:
    """RQ wants raw bytes from Redis; the in-process server is shared with the app.
    Short timeouts: the web process queues a nudge after its commit, and a Redis that hangs
    must not hold the webhook's answer (the sweep sends the rows anyway); RQ's worker
    raises the read timeout itself for its blocking dequeue."""
    if url == MEMORY_URL:
        import fakeredis

        import storage.redis_store as store

        store.connect(MEMORY_URL)  # make sure the shared fake server exists
        return fakeredis.FakeRedis(server=store._memory_server)
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def drain_chat(office_id: int, channel: str, chat_id: str) -> int:
    """The job: send what is due for one office's chat, in order."""
    return _runtime.outbound.dispatcher.drain_chat(office_id, channel, chat_id, patient=True)


def enqueue_drain(connection: redis.Redis, office_id: int, channel: str, chat_id: str) -> None:
    Queue(QUEUE, connection=connection).enqueue(
        drain_chat, office_id, channel, chat_id, job_timeout=300, result_ttl=0, failure_ttl=24 * 3600)


def run_worker(runtime, burst: bool = False, inbound: bool = True) -> None:
    """Work the queues until stopped (or, with burst, until they are empty: then there is no
    sweep either, so what the run did is exactly what the queue asked for). `inbound`: also
    handle the stored inbound messages (bot.inbound), in a thread beside the RQ worker."""
    global _runtime
    _runtime = runtime
    if inbound and burst:
        runtime.inbound.drain()
    elif inbound:
        runtime.inbound.start()
    if not burst:
        runtime.outbound.start()  # the sweep
    try:
        if not runtime.senders_by_office():  # nothing to send by a provider: handling is the whole job
            if not burst:
                threading.Event().wait()  # until the process is stopped
            return
        connection = rq_connection(runtime.settings.redis.url)
        SimpleWorker([Queue(QUEUE, connection=connection)], connection=connection).work(
            burst=burst, logging_level="WARNING")
    finally:
        if not burst:
            runtime.outbound.stop()
        if inbound:
            runtime.inbound.stop()
