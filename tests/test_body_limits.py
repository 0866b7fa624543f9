"""Bounded bodies: a body over the limit is refused from its Content-Length before it is
read, by `aduan run` itself (its gunicorn server has no body limit of its own: the app's
checks are the limit, as under a production gunicorn), and a chunked body without a
length is cut off at the limit."""
from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.app import SMALL_BODY, create_app
from bot.config import ConfigError, Settings, load_settings
from tests.faults import children

HUGE = 900 * 1024 * 1024
MB = 1024 * 1024
SECRET = "body-secret"


@pytest.fixture
def runtime(make_runtime):
    # The smallest limits the config allows: 1 MB uploads, 2 MB bodies.
    return make_runtime(telegram={"secret_token": SECRET}, intake={"max_attachment_mb": 1},
                        server={"max_body_mb": 2})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`aduan run` on a free loopback port with those limits; (port, its worker's pid)."""
    tmp = tmp_path_factory.mktemp("bodies")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp / "config.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp}/aduan.db"\n[server]\nport = {port}\nmax_body_mb = 2\n'
                   f'[intake]\nmax_attachment_mb = 1\n[telegram]\nsecret_token = "{SECRET}"\n')
    env = dict(os.environ, ADUAN_CONFIG=str(cfg))
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, cwd=tmp, check=True,
                   capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "bot", "run", "--no-worker", "--no-scheduler"], env=env,
                              cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        [worker] = children(server.pid)
        yield port, worker
    finally:
        server.terminate()
        server.wait(20)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def answer(sock: socket.socket, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data


def test_aduan_run_refuses_a_huge_content_length_before_reading_it(served):
    port, worker = served
    before = rss_mb(worker)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /webhooks/telegram HTTP/1.1\r\nHost: aduan\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n{\"update_id\": 1" % HUGE)
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert time.monotonic() - started < 5
    assert rss_mb(worker) - before < 20  # nothing of it was taken in


def test_aduan_run_cuts_a_chunked_body_at_the_limit(served):
    port, worker = served
    before = rss_mb(worker)
    sent, reply = 0, b""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        # with the webhook's secret, so that the app reads the body
        sock.sendall(b"POST /webhooks/telegram HTTP/1.1\r\nHost: aduan\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: %s\r\n\r\n" % SECRET.encode())
        chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"x" * 64 * 1024)
        try:
            while sent < 64 * MB:
                if select.select([sock], [], [], 0)[0]:
                    break
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server closed the connection on us
            pass
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert sent < SMALL_BODY + 8 * MB  # the limit, and what the kernel's buffers took meanwhile
    assert rss_mb(worker) - before < 20


def test_the_app_refuses_a_long_body_from_its_header(runtime):
    client = create_app(runtime=runtime).test_client()
    big = b"{" + b" " * (SMALL_BODY + 10) + b"}"
    for path in ("/webhooks/telegram", "/webhooks/whatsapp", "/webchat/api/messages"):
        r = client.post(path, data=big, content_type="application/json")
        assert r.status_code == 413, (path, r.status_code)  # even before the webhook's secret check
    r = client.post("/webhooks/telegram", json={"update_id": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": "x"})
    assert r.status_code == 403  # a small body goes on to the secret check as before
    assert client.application.config["MAX_CONTENT_LENGTH"] == 2 * MB


def test_the_body_limit_must_leave_room_for_an_upload(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text("[intake]\nmax_attachment_mb = 10\n[server]\nmax_body_mb = 10\n")
    with pytest.raises(ConfigError, match="server.max_body_mb .* must be above intake.max_attachment_mb"):
        load_settings(str(cfg))
    assert Settings().server.max_body_mb == 12


def test_aduan_run_takes_a_small_chunked_update(served):
    port, _ = served
    body = b'{"update_id": 7, "message": {"message_id": 7, "date": 1, "text": "halo", ' \
           b'"chat": {"id": 77, "type": "private"}, "from": {"id": 77, "is_bot": false, "first_name": "W"}}}'
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /webhooks/telegram HTTP/1.1\r\nHost: aduan\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: %s\r\n\r\n"
                     % SECRET.encode())
        for part in (body[:40], body[40:]):
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        sock.sendall(b"0\r\n\r\n")
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
