"""A tiny threaded HTTP server on loopback that records requests; the fakes build on it."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes
    form: dict = field(default_factory=dict)

    def params(self) -> dict:
        """JSON or form fields of the request, flattened."""
        kind = self.headers.get("Content-Type", "")
        if "json" in kind:
            return json.loads(self.body or b"{}")
        if "multipart/form-data" in kind:
            return _multipart(self.body, kind)
        return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Upload:
    """A file part of a multipart request, as its bytes."""

    filename: str
    content_type: str | None
    data: bytes


def _multipart(body: bytes, kind: str) -> dict:
    boundary = kind.split("boundary=")[1].strip('"').encode()
    out = {}
    for part in body.split(b"--" + boundary):
        if b"\r\n\r\n" not in part:
            continue
        head, value = part.split(b"\r\n\r\n", 1)
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        value = value[:-2] if value.endswith(b"\r\n") else value  # the line break before the boundary
        if b'filename="' in head:
            ctype = next((line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-type:")), None)
            out[name] = Upload(head.split(b'filename="')[1].split(b'"')[0].decode(), ctype, value)
        else:
            out[name] = value.decode()
    return out


class FakeServer:
    """Subclasses implement `respond(recorded) -> (status, headers, body)`."""

    def __init__(self):
        fake = self
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self._handle("POST")

            def do_GET(self):
                self._handle("GET")

            def _handle(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                rec = Recorded(method, unquote(self.path), dict(self.headers), self.rfile.read(length))
                with fake.lock:
                    fake.requests.append(rec)
                status, headers, body = fake.respond(rec)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def respond(self, rec: Recorded):
        raise NotImplementedError
