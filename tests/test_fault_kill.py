"""kill -9 the server (web + outbound + scheduler in one process) in the middle of a
load, start it again, replay what was not acknowledged (as Telegram does), and reconcile:
every acknowledged update has exactly one row, every outbox row ends sent."""
import os
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, text

from tests.fakes.telegram_api import FakeBotAPI
from tests.faults import free_port, post_update, start_update

SECRET, TOKEN = "kill-secret", "123:TEST"


def update(n):
    return start_update(n, 50_000, 3000)


def post(port, body) -> int:
    return post_update(port, body, SECRET, timeout=5)


def start(env, cwd):
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = int(env["ADUAN_SERVER_PORT"])
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def test_kill_9_mid_load_loses_nothing(tmp_path):
    db = tmp_path / "aduan.db"
    port = free_port()
    with FakeBotAPI(TOKEN) as api:
        env = dict(os.environ, ADUAN_DATABASE_URL=f"sqlite:///{db}", ADUAN_SERVER_PORT=str(port),
                   ADUAN_TELEGRAM_TOKEN=TOKEN, ADUAN_TELEGRAM_SECRET_TOKEN=SECRET,
                   ADUAN_TELEGRAM_API_BASE_URL=api.url, ADUAN_CONFIG=str(tmp_path / "none.toml"))
        (tmp_path / "none.toml").write_text("")
        subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, cwd=tmp_path, check=True,
                       capture_output=True)
        server = start(env, tmp_path)
        updates = [update(n) for n in range(80)]
        acked = {}
        with ThreadPoolExecutor(8) as pool:
            futures = {pool.submit(post, port, u): u["update_id"] for u in updates}
            time.sleep(0.3)
            os.kill(server.pid, signal.SIGKILL)  # mid-load, no goodbye
            for f, uid in futures.items():
                acked[uid] = f.result() == 200
        server.wait()
        server = start(env, tmp_path)
        try:
            # Telegram redelivers what was not acknowledged; throw in duplicates of what was
            for u in updates:
                if not acked[u["update_id"]] or u["update_id"] % 7 == 0:
                    assert post(port, u) == 200
            engine = create_engine(f"sqlite:///{db}")
            deadline = time.time() + 60
            while time.time() < deadline:
                with engine.connect() as c:
                    pending = c.scalar(text("SELECT count(*) FROM outbox WHERE status = 'pending'"))
                if pending == 0:
                    break
                time.sleep(0.5)
            with engine.connect() as c:
                rows = c.scalar(text("SELECT count(*) FROM inbound_messages"))
                distinct = c.scalar(text("SELECT count(DISTINCT provider_message_id) FROM inbound_messages"))
                statuses = dict(c.execute(text("SELECT status, count(*) FROM outbox GROUP BY status")).all())
            assert rows == distinct == len(updates)  # every update exactly once
            assert statuses == {"sent": 2 * len(updates)}  # greeting + privacy notice each, all sent
            chats = {int(p["chat_id"]) for p in api.sent()}
            assert chats == {3000 + n for n in range(80)}
            print(f"acknowledged before the kill: {sum(acked.values())}/{len(updates)}; "
                  f"provider sends {len(api.sent())} for {statuses['sent']} rows")
        finally:
            server.terminate()
            server.wait(10)
