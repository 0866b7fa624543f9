"""SQLite's one writer, shared by processes through storage.db's kernel lock: a process
waits for another's transaction to end, a holder that dies frees it, and a process that
writes back to back does not keep another out (SQLite's own busy handler, which sleeps
between tries, would)."""
import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time

from sqlalchemy import text

from storage.db import make_engine, make_sessionmaker, transaction

# A process of its own: units of work on the database, `hold` seconds each, back to back
# for `seconds` (once if 0); "in" is printed once it holds the first.
WRITER = textwrap.dedent("""
    import sys, time
    from sqlalchemy import text
    from storage.db import make_engine, make_sessionmaker, transaction
    factory = make_sessionmaker(make_engine(sys.argv[1]))
    hold, seconds = float(sys.argv[2]), float(sys.argv[3])
    end, first = time.monotonic() + seconds, True
    while first or time.monotonic() < end:
        with transaction(factory) as s:
            s.execute(text("INSERT INTO log (who) VALUES ('other')"))
            if first:
                print("in", flush=True)
                first = False
            time.sleep(hold)
""")


def _database(tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/writer.db"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)"))
    engine.dispose()
    return url


def _other(url: str, hold: float, seconds: float = 0) -> subprocess.Popen:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", WRITER, url, str(hold), str(seconds)], stdout=subprocess.PIPE,
                            text=True, cwd=root, env=dict(os.environ, PYTHONPATH=root))
    assert proc.stdout.readline().strip() == "in"
    return proc


def _write(factory) -> float:
    """One unit of work here; how long it waited for the writer."""
    start = time.monotonic()
    with transaction(factory) as s:
        waited = time.monotonic() - start
        s.execute(text("INSERT INTO log (who) VALUES ('here')"))
    return waited


def _kernel_lock_free(url: str) -> bool:
    """Whether no process holds the writer's kernel lock on the file beside the database."""
    fd = os.open(url.removeprefix("sqlite:///") + "-writer", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def test_a_process_waits_for_another_s_transaction_in_the_kernel_and_goes_in_when_it_ends(tmp_path):
    url = _database(tmp_path)
    other = _other(url, hold=0.6)
    assert not _kernel_lock_free(url)  # the other's transaction holds it (not only SQLite's lock)
    factory = make_sessionmaker(make_engine(url))
    waited = _write(factory)
    assert other.wait(10) == 0
    assert waited > 0.3  # it queued behind the other's transaction (not beside it)
    assert _kernel_lock_free(url)


def test_a_holder_killed_mid_transaction_frees_the_writer(tmp_path):
    url = _database(tmp_path)
    other = _other(url, hold=60)
    assert not _kernel_lock_free(url)
    other.send_signal(signal.SIGKILL)
    other.wait(10)
    assert _kernel_lock_free(url)  # the kernel let go of the dead holder's lock
    factory = make_sessionmaker(make_engine(url))
    assert _write(factory) < 2  # and SQLite of its own


def test_a_process_writing_back_to_back_does_not_keep_another_out(tmp_path):
    """The loops of `aduan run` commit one transaction after another; the web worker's
    acknowledgements still get in, each after at most a transaction or two of theirs."""
    url = _database(tmp_path)
    other = _other(url, hold=0.005, seconds=3)
    factory = make_sessionmaker(make_engine(url))
    waits = []
    while other.poll() is None and len(waits) < 20:
        waits.append(_write(factory))
        time.sleep(0.01)
    other.wait(10)
    assert len(waits) == 20, f"{len(waits)} writes got in while the other process wrote for 3 s"
    assert sorted(waits)[-2] < 0.25, waits  # one slow wait on a busy machine, not a starved writer
