"""Helpers for the benchmarks: servers on loopback, figures printed one per line."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
# The bare view as `aduan run` serves: gunicorn, one worker of 8 threads (bot.server)
EMBEDDED_HELLO = [PY, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "8", "--log-level", "warning",
                  "--keep-alive", "5"]


def embedded_hello(port: int, cwd: Path):
    return start(EMBEDDED_HELLO + ["-b", f"127.0.0.1:{port}", "bench.hello:create_app()"], {}, cwd)


def figure(name: str, value, unit: str = "") -> None:
    """One machine-readable line per figure: `name value [unit]`."""
    if isinstance(value, float):
        value = f"{value:.2f}"
    print(f"{name} {value}{(' ' + unit) if unit else ''}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _env(env: dict) -> dict:
    """The benchmark's environment; this checkout's code first (the processes start in a
    scratch folder, where `python -m bot` would otherwise import whichever checkout the
    virtualenv was installed from)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **env}


def start(cmd: list[str], env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=_env(env), cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children, in KiB."""
    total = 0
    for p in [pid] + _children(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children so far, in seconds."""
    total = 0
    for p in [pid] + _children(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = [int(k) for k in kids]
    for k in list(found):
        found += _children(k)
    return found


def fresh_database(admin_url: str, name: str) -> str:
    """Drop and create a PostgreSQL database for a benchmark run; return its URL."""
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def migrate(env: dict, cwd: Path) -> None:
    """`aduan db upgrade` with the benchmark's environment."""
    subprocess.run([PY, "-m", "bot", "db", "upgrade"], env=_env(env), cwd=cwd, check=True,
                   capture_output=True)


def aware(when: datetime) -> datetime:
    """A timestamp read back from the database, in UTC (SQLite gives it without a zone)."""
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
