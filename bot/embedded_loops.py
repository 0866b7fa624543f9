"""The loops of `aduan run` (inbound handling, the outbox, the scheduler) in a process of
their own, beside the web worker that answers the requests.

Why apart: in one interpreter the webhooks and the handling take turns on one core
(bench/handling.py, embedded: 241 handled messages/s on a two-core machine); in two
processes they run side by side (441 - 446/s in the same hour), and a webhook's
acknowledgement no longer waits for the interpreter while a batch is handled.

How they share: SQLite's one writer through storage.db's kernel lock (sqlite_writer: a
file lock beside the database, handed from process to process the moment a transaction
ends), the rows in the database (a 2xx still means stored), and a pipe from the web
worker to the loops, on which the web worker says "a message was stored" or "new outbox
rows" (Runtime.loops_elsewhere): the loops start on it at once instead of at their next
poll. Nothing else is shared: the in-process Redis of the embedded default is each
process's own (the web worker's rate limits, the loops' send limits and scheduler lock).

Their life: forked by the web worker once gunicorn has initialized it and before it
serves (a process of one thread then, so nothing is forked mid-way), and killed by the
kernel when the web worker dies (PR_SET_PDEATHSIG), as the web worker is when the master
dies: a `kill -9` of `aduan run` still takes all of it down. When the web worker stops,
it stops the loops first (SIGTERM, then SIGKILL after the grace period). Should the loops
process end while the web worker lives, the web worker ends too, gracefully, and
gunicorn's master starts another, with loops of its own: what was stored meanwhile waits
in the database.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
INBOUND, OUTBOUND = b"i", b"o"  # what the web worker says on the pipe


def die_with_parent(parent_pid: int) -> None:
    """Linux: SIGKILL to this process when its parent dies (elsewhere gunicorn's worker
    notices its parent is gone within a second and stops; the loops see their pipe close)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


class LoopsProcess:
    """The loops of one web worker, in a child process of it."""

    def __init__(self, runtime, inbound: bool, outbound: bool, scheduler: bool, grace: float = 10.0):
        self.runtime, self.grace = runtime, grace
        self.inbound, self.outbound, self.scheduler = inbound, outbound, scheduler
        self.pid: int | None = None
        self._pipe = -1  # the write end, the web worker's
        self._pidfd = -1  # the child as a pidfd: a signal never reaches a process that took its number later
        self._stopping = False
        self._watcher: threading.Thread | None = None

    # -- in the web worker ----------------------------------------------------------------
    def start(self, listeners=()) -> None:
        """Fork the loops (call it while this process runs one thread). `listeners`: the
        sockets the web worker serves on, closed in the child (it serves nothing)."""
        read, write = os.pipe()
        os.set_blocking(write, False)  # a full pipe means the loops have work to look at already
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(write)
            self._child(parent, read, listeners)  # never returns
        os.close(read)
        self.pid, self._pipe = pid, write
        self._pidfd = _pidfd(pid)
        if self.inbound or self.outbound:  # else (the scheduler alone) the nudges go as without loops
            self.runtime.loops_elsewhere = self.tell
        self._watcher = threading.Thread(target=self._watch, name="loops-watcher", daemon=True)
        self._watcher.start()

    def tell(self, what: str) -> None:
        """A message was stored ("inbound"), or outbox rows were written ("outbound")."""
        try:
            os.write(self._pipe, INBOUND if what == "inbound" else OUTBOUND)
        except (BlockingIOError, BrokenPipeError):  # unread nudges already wait / the loops are gone
            pass
        except OSError:
            log.warning("could not tell the loops process", exc_info=True)

    def _watch(self) -> None:
        _, status = os.waitpid(self.pid, 0)
        if not self._stopping:
            # the web worker goes too (gracefully), and gunicorn's master starts another
            log.error("the loops process ended (%s); the web worker restarts with new loops",
                      _how(status))
            os.kill(os.getpid(), signal.SIGTERM)

    def stop(self) -> None:
        """Stop the loops: SIGTERM, and SIGKILL if they have not ended within the grace period."""
        if self.pid is None:
            return
        self._stopping = True
        self.runtime.loops_elsewhere = None
        self._signal(signal.SIGTERM)
        self._watcher.join(self.grace)
        if self._watcher.is_alive():
            log.warning("the loops process did not stop within %s s; killed", self.grace)
            self._signal(signal.SIGKILL)
            self._watcher.join(5)
        if self._pidfd >= 0 and not self._watcher.is_alive():
            os.close(self._pidfd)
            self._pidfd = -1
        # The pipe stays open until this process exits: a request thread that still has
        # `tell` in hand must not write to a number the process has since given to a file.
        self.pid = None

    def _signal(self, sig: int) -> None:
        try:
            if self._pidfd >= 0:
                signal.pidfd_send_signal(self._pidfd, sig)
            elif self._watcher.is_alive():  # not reaped yet: the number is still the child's
                os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    # -- in the loops process -------------------------------------------------------------
    def _child(self, parent: int, read: int, listeners) -> None:
        code = 1
        try:
            # gunicorn's worker signal handlers and wakeup fd were inherited: not ours
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1,
                        signal.SIGUSR2, signal.SIGWINCH, signal.SIGCHLD, signal.SIGABRT):
                signal.signal(sig, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            for sock in listeners:
                sock.close()
            die_with_parent(parent)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C reaches the whole group: the master decides
            rt = self.runtime
            rt.after_fork()
            if self.inbound:
                rt.inbound.start()
            if self.outbound:
                rt.outbound.start()
            if self.scheduler:
                rt.scheduler.start()
            threading.Thread(target=self._hear, args=(read, stop), name="loops-nudges", daemon=True).start()
            stop.wait()
            rt.close()  # the loops stop, the connections close
            code = 0
        except BaseException:
            log.exception("the loops process failed")
        finally:
            logging.shutdown()
            os._exit(code)

    def _hear(self, read: int, stop: threading.Event) -> None:
        rt = self.runtime
        while True:
            try:
                said = os.read(read, 4096)
            except OSError:
                said = b""
            if not said:  # the web worker is gone (the kernel's SIGKILL is on its way)
                stop.set()
                return
            if INBOUND in said and self.inbound:
                rt.inbound.wake()
            if OUTBOUND in said and self.outbound:
                rt.outbound.wake()


def _pidfd(pid: int) -> int:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux 5.3+
        return -1


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
