"""The embedded server of `aduan run`: gunicorn with one worker process of request threads
(gthread), and the deployment's loops (inbound handling, the outbox, the scheduler) in a
process of their own beside it, forked by that worker (bot.embedded_loops).

Why one web worker: SQLite, the embedded default, has one writer; one thread of the
worker commits the webhooks' acknowledgements in groups (storage.acknowledgements), and
the loops take their turns with it through storage.db's writer lock. Why gunicorn and not
waitress: waitress's single I/O thread polls at full speed while requests wait, and
under load it and the request threads contend for the interpreter lock; on this
project's two-core machines the same acknowledgement ran at 0.27 of waitress's own bare
view and at 0.64 of gunicorn's (bench/inbound.py measures it).

The app and its runtime are built once in the master (preload) and the worker is forked
from it, so a worker that crashes is replaced with the same configuration (and new
loops). The worker drops the connections and senders it inherited (Runtime.after_fork: a
connection is never shared across a fork, and a sender's event loop thread does not
survive one) and asks the kernel to kill it when the master dies: a `kill -9` of `aduan
run` takes all of it down at once, as it did when it was one process.
"""
from __future__ import annotations

import logging
import socket

from gunicorn.app.base import BaseApplication

from bot.embedded_loops import LoopsProcess, die_with_parent

log = logging.getLogger(__name__)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, made here so that a taken port is one clear error (gunicorn
    would retry for five seconds, then log a traceback)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock


class EmbeddedServer(BaseApplication):
    """gunicorn, one gthread worker, serving `app` on an already bound socket; `loops`:
    start the deployment's loops in the worker (after the fork), `stop` them at its end."""

    def __init__(self, app, runtime, sock: socket.socket, threads: int, loops: bool, scheduler: bool):
        self.app, self.runtime, self.sock = app, runtime, sock
        self.threads, self.loops, self.scheduler = threads, loops, scheduler
        self._loops: LoopsProcess | None = None
        super().__init__()

    def load_config(self) -> None:
        settings = {
            "bind": [f"fd://{self.sock.fileno()}"],
            "workers": 1,  # SQLite's one writer: see the module's docstring
            "worker_class": "gthread",
            "threads": self.threads,
            "preload_app": True,
            "graceful_timeout": 10,
            "keepalive": 5,
            "loglevel": "warning",
            "accesslog": None,
            "post_fork": self._post_fork,
            "post_worker_init": self._post_worker_init,
            "worker_exit": self._worker_exit,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        return self.app

    # -- the worker's life (called in the worker process) --------------------------------
    def _post_fork(self, server, worker) -> None:
        die_with_parent(worker.ppid)
        self.runtime.after_fork()

    def _post_worker_init(self, worker) -> None:
        # before the worker serves, while it is one thread: the loops' process is forked
        if self.loops or self.scheduler:
            self._loops = LoopsProcess(self.runtime, inbound=self.loops, outbound=self.loops,
                                       scheduler=self.scheduler, grace=self.cfg.graceful_timeout)
            self._loops.start(listeners=worker.sockets)

    def _worker_exit(self, server, worker) -> None:
        if self._loops is not None:
            self._loops.stop()
