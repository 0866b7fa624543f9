"""kill -9 the server (web + outbound + scheduler in one process) in the middle of a
load, start it again, replay what was not acknowledged (as Telegram does), and reconcile:
every acknowledged update has exactly one row, and every reply of every one of them was
really received by the (fake) Bot API: a row marked sent without a send fails the test.

The kill lands mid-load by construction: it waits for the first acknowledgements and
fires while most of the load is still to come (both halves are asserted)."""
import os
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed

from sqlalchemy import create_engine, text

from tests.faults import LoggingBotAPI, free_port, post_update, reconcile, start_update

SECRET, TOKEN = "kill-secret", "123:TEST"
KILL_AFTER = 15  # acknowledged updates before the kill (of 80)


def update(n):
    return start_update(n, 50_000, 3000)


def post(port, body) -> int:
    return post_update(port, body, SECRET, timeout=5)


def start(env, cwd):
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = int(env["ADUAN_SERVER_PORT"])
    for _ in range(300):  # 30 s: a loaded machine takes its time to import everything
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def test_kill_9_mid_load_loses_nothing(tmp_path):
    db = tmp_path / "aduan.db"
    port = free_port()
    with LoggingBotAPI(TOKEN) as api:
        env = dict(os.environ, ADUAN_DATABASE_URL=f"sqlite:///{db}", ADUAN_SERVER_PORT=str(port),
                   ADUAN_TELEGRAM_TOKEN=TOKEN, ADUAN_TELEGRAM_SECRET_TOKEN=SECRET,
                   ADUAN_TELEGRAM_API_BASE_URL=api.url, ADUAN_CONFIG=str(tmp_path / "none.toml"))
        (tmp_path / "none.toml").write_text("")
        subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, cwd=tmp_path, check=True,
                       capture_output=True)
        server = start(env, tmp_path)
        updates = [update(n) for n in range(80)]
        acked = {}
        with ThreadPoolExecutor(4) as pool:
            futures = {pool.submit(post, port, u): u["update_id"] for u in updates}
            for f in as_completed(futures):
                acked[futures[f]] = f.result() == 200
                if sum(acked.values()) == KILL_AFTER:
                    os.kill(server.pid, signal.SIGKILL)  # mid-load, no goodbye
        server.wait()
        before = sum(acked.values())
        # The kill landed inside the load: some were acknowledged, most were not yet.
        assert KILL_AFTER <= before < len(updates) - 20, before
        server = start(env, tmp_path)
        try:
            # Telegram redelivers what was not acknowledged; throw in duplicates of what was
            after = 0
            for u in updates:
                if not acked[u["update_id"]] or u["update_id"] % 7 == 0:
                    assert post(port, u) == 200
                    after += not acked[u["update_id"]]
            assert after == len(updates) - before  # acknowledged after the restart
            engine = create_engine(f"sqlite:///{db}")
            deadline = time.time() + 60
            while time.time() < deadline:  # every update handled, and every reply it made sent
                with engine.connect() as c:
                    pending = c.scalar(text("SELECT count(*) FROM outbox WHERE status = 'pending'"))
                    unhandled = c.scalar(text("SELECT count(*) FROM inbound_messages WHERE handled_at IS NULL"))
                if pending == unhandled == 0:
                    break
                time.sleep(0.5)
            with engine.connect() as c:
                rows = c.scalar(text("SELECT count(*) FROM inbound_messages"))
                distinct = c.scalar(text("SELECT count(DISTINCT provider_message_id) FROM inbound_messages"))
                statuses = dict(c.execute(text("SELECT status, count(*) FROM outbox GROUP BY status")).all())
                sent = c.execute(text("SELECT id, chat_id, provider_message_id FROM outbox")).all()
            assert rows == distinct == len(updates)  # every update exactly once
            assert statuses == {"sent": 2 * len(updates)}  # greeting + privacy notice each, all sent
            # Each row was taken by a send the Bot API really received, to its chat, in order:
            # the replies of every acknowledged update reached the provider.
            duplicates = reconcile([(i, chat, mid) for i, chat, mid in sent], api.log)
            per_chat = {}
            for chat, body, _ in api.log:
                per_chat.setdefault(chat, set()).add(body.split("\n")[0][:20])
            assert set(per_chat) == {str(3000 + n) for n in range(80)}
            assert all(len(firsts) == 2 for firsts in per_chat.values())  # the greeting and the notice
            print(f"acknowledged before the kill: {before}/{len(updates)}, after: {after}; "
                  f"provider sends {len(api.log)} for {statuses['sent']} rows ({duplicates} resent)")
        finally:
            server.terminate()
            server.wait(10)
