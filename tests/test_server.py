"""`aduan run` serves the app with a production WSGI server, and /healthz answers."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.app import create_app
from bot.config import Settings
from tests.faults import children

ROOT = Path(__file__).resolve().parent.parent

# A process starting on a busy machine (two test workers, PostgreSQL) may take a while.
STARTUP_TRIES = 600  # x 0.1 s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aduan_run(tmp_path, more: str = "") -> tuple[int, subprocess.Popen, dict, list]:
    """`aduan run` on a new SQLite file in tmp_path, `more` added to its config file:
    (its port, the process, its environment, the command)."""
    port = free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/var/aduan.db"\n[server]\nport = {port}\n' + more)
    env = dict(os.environ, ADUAN_CONFIG=str(cfg))
    aduan = [sys.executable, "-m", "bot"]
    subprocess.run(aduan + ["db", "upgrade"], env=env, check=True, cwd=tmp_path, capture_output=True)
    server = subprocess.Popen(aduan + ["run"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    return port, server, env, aduan


def test_healthz_checks_database_and_redis(database_url, engine):
    settings = Settings.model_validate({"database": {"url": database_url}})
    client = create_app(settings).test_client()
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "database": "ok", "redis": "ok", "workflow": "sp4n-lapor"}


def test_healthz_reports_a_dead_dependency():
    settings = Settings.model_validate({"redis": {"url": "redis://127.0.0.1:1/0"}})
    r = create_app(settings).test_client().get("/healthz")
    assert r.status_code == 503 and r.get_json()["redis"] == "down"


def test_aduan_run_serves_healthz_with_gunicorn_replaces_a_dead_worker_and_a_kill_9_takes_it_along(tmp_path):
    port, server, _, _ = aduan_run(tmp_path)
    try:
        body, server_header = None, None
        for _ in range(STARTUP_TRIES):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    body, server_header = r.read().decode(), r.headers.get("Server")
                break
            except OSError:
                time.sleep(0.1)
        assert body is not None, "the server did not answer"
        assert '"status":"ok"' in body.replace(" ", "")
        assert server_header == "gunicorn"  # not Flask's development server
        first = children(server.pid)
        assert len(first) == 1  # one worker: SQLite's one writer (bot.server)
        os.kill(first[0], signal.SIGKILL)  # the worker dies: the master starts another
        workers = []
        for _ in range(STARTUP_TRIES):
            workers = [w for w in children(server.pid) if w != first[0]]
            if workers:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except OSError:
                    pass
            time.sleep(0.1)
        assert len(workers) == 1, "no new worker"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            assert r.status == 200
        # the master killed without a chance to stop its worker: the kernel stops it too
        server.kill()
        server.wait(10)
        for _ in range(50):
            if not Path(f"/proc/{workers[0]}").exists():
                break
            time.sleep(0.1)
        assert not Path(f"/proc/{workers[0]}").exists(), "the worker outlived its master"
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT, not past a listener
            s.bind(("127.0.0.1", port))  # nothing listens on the port any more
            s.listen()
    finally:
        if server.poll() is None:
            server.terminate()
        out, _ = server.communicate(timeout=10)
    assert f"on http://127.0.0.1:{port}/" in out and "WARNING: This is a development server" not in out


def test_make_run_serves_the_web_chat_and_a_complaint_shows_in_cases_show(tmp_path):
    """With no credentials: the web chat at / takes a complaint; `aduan cases show` has it."""
    import http.cookiejar
    import json
    import uuid

    port, server, env, aduan = aduan_run(tmp_path)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    base = f"http://127.0.0.1:{port}"
    page = ""
    try:
        for _ in range(STARTUP_TRIES):
            try:
                page = opener.open(base + "/", timeout=1).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert "<title>Aduan</title>" in page

        def say(**body):
            time.sleep(0.5)  # as fast as a person clicks: the default limit is 2 messages a second
            req = urllib.request.Request(base + "/webchat/api/messages", method="POST",
                                         data=json.dumps({"id": uuid.uuid4().hex, **body}).encode(),
                                         headers={"Content-Type": "application/json"})
            assert opener.open(req, timeout=5).status == 200

        for body in [{"text": "/mulai"}, {"button": "agree"}, {"button": "file"}, {"text": "Budi Santoso"},
                     {"button": "skip"}, {"button": "skip"}, {"button": "aspirasi"},
                     {"text": "Mohon ruang tunggu diberi kipas angin."}, {"button": "next"},
                     {"button": "biasa"}, {"button": "submit"}]:
            say(**body)
        messages = json.loads(opener.open(base + "/webchat/api/messages?after=0", timeout=5).read())["messages"]
        ticket = next(m["text"] for m in messages if "nomor tiket" in m["text"]).split("nomor tiket ")[1][:15]
    finally:
        server.terminate()
        server.communicate(timeout=10)
    shown = subprocess.run(aduan + ["cases", "show", ticket], env=env, cwd=tmp_path, capture_output=True,
                           text=True, check=True).stdout
    assert ticket in shown and "Mohon ruang tunggu diberi kipas angin." in shown and "webchat" in shown


def test_aduan_run_handles_in_a_loops_process_of_its_own_told_at_once_and_renewed_with_its_worker(tmp_path):
    """The loops run in a child of the web worker; the web worker tells them of a stored
    message at once (the loop's own poll here is ten seconds); loops that die take their
    web worker along and the master's new worker has new loops; a kill -9 of the master
    leaves none of them."""
    import http.cookiejar
    import json
    import uuid

    port, server, _, _ = aduan_run(tmp_path, '[inbound]\npoll_seconds = 10\n')
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    base = f"http://127.0.0.1:{port}"

    def answered(body: dict) -> float:
        """Post a message; seconds until the bot's reply is there to fetch."""
        before = len(json.loads(opener.open(base + "/webchat/api/messages?after=0", timeout=5).read())["messages"])
        start = time.monotonic()
        req = urllib.request.Request(base + "/webchat/api/messages", method="POST",
                                     data=json.dumps({"id": uuid.uuid4().hex, **body}).encode(),
                                     headers={"Content-Type": "application/json"})
        assert opener.open(req, timeout=5).status == 200
        messages = json.loads(opener.open(base + "/webchat/api/messages?after=0", timeout=5).read())["messages"]
        assert len(messages) > before, "no reply by the time the post was answered"
        return time.monotonic() - start

    def serving() -> tuple[int, int] | None:
        """(web worker, its loops process) once both are up and the web chat answers."""
        workers = children(server.pid)
        loops = children(workers[0]) if len(workers) == 1 else []
        if len(loops) != 1:
            return None
        try:
            opener.open(base + "/", timeout=1)
        except OSError:
            return None
        return workers[0], loops[0]

    try:
        first = None
        for _ in range(STARTUP_TRIES):
            first = serving()
            if first:
                break
            time.sleep(0.1)
        assert first, "no web worker with its loops"
        assert answered({"text": "/mulai"}) < 2.5
        os.kill(first[1], signal.SIGKILL)  # the loops die: their web worker goes, the master starts another
        second = None
        for _ in range(STARTUP_TRIES):
            second = serving()
            if second and second[0] != first[0]:
                break
            time.sleep(0.1)
        assert second and second[0] != first[0] and second[1] != first[1], "no new worker with new loops"
        assert not Path(f"/proc/{first[0]}").exists()
        assert answered({"button": "agree"}) < 2.5
        server.kill()
        server.wait(10)
        for _ in range(50):
            if not any(Path(f"/proc/{pid}").exists() for pid in second):
                break
            time.sleep(0.1)
        assert not any(Path(f"/proc/{pid}").exists() for pid in second), "a process outlived the master"
    finally:
        if server.poll() is None:
            server.terminate()
        out, _ = server.communicate(timeout=10)
    assert "the loops process ended (signal 9)" in out
