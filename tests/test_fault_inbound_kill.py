"""kill -9 around the inbound queue, web and worker apart: a webhook's 2xx means the
message is stored, so what a killed web process acknowledged, and what a killed worker
was in the middle of handling, is handled by the next worker, exactly once."""
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import create_engine, text

from tests.faults import free_port, post_update, start_update
from tests.test_fault_worker_kill import spawn, wait_until

SECRET = "inbound-kill-secret"
CHATS = 200  # one /start each: a greeting and a privacy notice (enough that a kill lands mid-way)


def test_kill_9_of_web_and_of_worker_mid_handling_leaves_every_acknowledged_message_handled_once(tmp_path):
    db = f"sqlite:///{tmp_path / 'aduan.db'}"
    port = free_port()
    (tmp_path / "none.toml").write_text("")
    env = dict(os.environ, ADUAN_DATABASE_URL=db, ADUAN_SERVER_PORT=str(port),
               ADUAN_TELEGRAM_SECRET_TOKEN=SECRET, ADUAN_CONFIG=str(tmp_path / "none.toml"))
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, cwd=tmp_path, check=True,
                   capture_output=True)
    engine = create_engine(db)

    def scalar(sql):
        with engine.connect() as c:
            return c.scalar(text(sql))

    procs = []
    try:
        # the web process only acknowledges: nothing in it handles a message
        web = spawn(["run", "--no-worker", "--no-scheduler"], env, tmp_path, "web")
        procs.append(web)
        wait_until(lambda: post_update(port, {}, SECRET) == 400, 30, "the web process")
        statuses = [post_update(port, start_update(n, 80_000, 6000), SECRET) for n in range(CHATS)]
        os.kill(web.pid, signal.SIGKILL)
        web.wait(10)
        assert statuses == [200] * CHATS
        assert scalar("SELECT count(*) FROM inbound_messages WHERE handled_at IS NULL") == CHATS
        assert scalar("SELECT count(*) FROM outbox") == 0

        # a worker is killed -9 while it handles them
        worker = spawn(["worker"], env, tmp_path, "worker-1")
        procs.append(worker)
        wait_until(lambda: scalar("SELECT count(*) FROM inbound_messages WHERE handled_at IS NOT NULL") >= 3,
                   30, "the worker to handle a few")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        left = scalar("SELECT count(*) FROM inbound_messages WHERE handled_at IS NULL")
        assert left > 0, "the kill came too late: nothing was left to handle"

        # the next worker handles the rest; every chat's replies are there exactly once
        subprocess.run([sys.executable, "-m", "bot", "worker", "--burst"], env=env, cwd=tmp_path, check=True,
                       capture_output=True, timeout=120)
        assert scalar("SELECT count(*) FROM inbound_messages WHERE handled_at IS NULL") == 0
        with engine.connect() as c:
            per_chat = c.execute(text("SELECT chat_id, count(*) FROM outbox GROUP BY chat_id")).all()
            kept = c.execute(text("SELECT payload FROM inbound_messages")).scalars().all()
        assert len(per_chat) == CHATS and {n for _, n in per_chat} == {2}, per_chat
        assert all("pending" not in p for p in kept)  # every payload reduced to its outline
        print(f"\ninbound kill: {CHATS} acknowledged by a web process killed before handling; "
              f"worker killed with {left} unhandled; the next worker handled them, 2 replies per chat")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        engine.dispose()
