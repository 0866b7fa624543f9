"""The embedded server of `aduan run`: gunicorn with one worker process of request threads
(gthread), and the deployment's loops (inbound handling, the outbox, the scheduler) in
that same worker, beside the threads that answer the webhooks.

Why one worker: SQLite, the embedded default, has one writer, and the loops and the
webhooks share it through one process's lock (storage.db.sqlite_writer). Why gunicorn and
not waitress: waitress's single I/O thread polls at full speed while requests wait, and
under load it and the request threads contend for the interpreter lock; on this
project's two-core machines the same acknowledgement ran at 0.27 of waitress's own bare
view and at 0.64 of gunicorn's (bench/inbound.py measures it).

The app and its runtime are built once in the master (preload) and the worker is forked
from it, so a worker that crashes is replaced with the same configuration. The worker
drops the connections and senders it inherited (Runtime.after_fork: a connection is never
shared across a fork, and a sender's event loop thread does not survive one) and asks
the kernel to kill it when the master dies: a `kill -9` of `aduan run` takes all of it
down at once, as it did when it was one process.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket

from gunicorn.app.base import BaseApplication

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


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
        _die_with_parent(worker.ppid)
        self.runtime.after_fork()

    def _post_worker_init(self, worker) -> None:
        rt = self.runtime
        if self.loops:
            rt.inbound.start()  # the embedded workers: handle what the webhooks stored,
            rt.outbound.start()  # and drain the outbox, in this process
        if self.scheduler:
            rt.scheduler.start()  # reminders, breaches, automatic transitions

    def _worker_exit(self, server, worker) -> None:
        rt = self.runtime
        if self.scheduler:
            rt.scheduler.stop()
        if self.loops:
            rt.inbound.stop()
            rt.outbound.stop()


def _die_with_parent(master_pid: int) -> None:
    """Linux: SIGKILL to this process when the master dies (elsewhere gunicorn's worker
    notices its parent is gone within a second and stops)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != master_pid:  # the master died before the prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)
