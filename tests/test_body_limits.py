"""Bounded bodies (issue 11, item 5): a body over the limit is refused from its
Content-Length before it is read, by the real waitress server as `aduan run` sets it up
and by the app itself (gunicorn has no body limit of its own), and a chunked body without
a length is cut off at the limit."""
from __future__ import annotations

import select
import socket
import threading
import time

import pytest
import waitress
import waitress.buffers

from bot.app import SMALL_BODY, create_app
from bot.cli.run import waitress_options
from bot.config import ConfigError, Settings, load_settings

HUGE = 900 * 1024 * 1024
MB = 1024 * 1024


@pytest.fixture
def runtime(make_runtime):
    # The smallest limits the config allows: 1 MB uploads, 2 MB bodies.
    return make_runtime(telegram={"secret_token": "body-secret"}, intake={"max_attachment_mb": 1},
                        server={"max_body_mb": 2})


@pytest.fixture
def served(runtime, monkeypatch):
    """The app under waitress on a free loopback port; (port, temporary files waitress made)."""
    spooled = []
    newfile = waitress.buffers.TempfileBasedBuffer.newfile
    monkeypatch.setattr(waitress.buffers.TempfileBasedBuffer, "newfile",
                        lambda self: spooled.append(1) or newfile(self))
    server = waitress.create_server(create_app(runtime=runtime), host="127.0.0.1", port=0,
                                    **waitress_options(runtime.settings))
    stop = threading.Event()

    def run():  # waitress's own loop, a round at a time, so that it stops in its own thread
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield server.effective_port, spooled
    stop.set()
    thread.join(timeout=5)


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


def test_waitress_refuses_a_huge_content_length_before_reading_it(served):
    port, spooled = served
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /webhooks/telegram HTTP/1.1\r\nHost: aduan\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n{\"update_id\": 1" % HUGE)
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert time.monotonic() - started < 5
    assert spooled == []  # nothing of it went to a temporary file


def test_waitress_cuts_a_chunked_body_at_the_limit(served):
    port, _ = served
    sent, reply = 0, b""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /webhooks/telegram HTTP/1.1\r\nHost: aduan\r\nTransfer-Encoding: chunked\r\n\r\n")
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
    assert sent < 2 * MB + 8 * MB  # the limit, and what the kernel's buffers took meanwhile


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
