"""A real SMTP server on 127.0.0.1 (aiosmtpd): it speaks the protocol to smtplib, records
what it accepts, and can be told to refuse the next recipients with any reply (451 try
again later, 550 no such user), to want a login, or to speak TLS (STARTTLS or from the
first byte) with a certificate made for the test."""
from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certificate(where: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 (the test's own CA)."""
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is needed to make the test certificate")
    cert, key = where / "smtp-cert.pem", where / "smtp-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


class _Handler:
    def __init__(self, fake: "FakeSMTP"):
        self.fake = fake

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.fake.rcpt_script:
            return self.fake.rcpt_script.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=default)
        self.fake.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class FakeSMTP:
    def __init__(self, *, login: tuple[str, str] | None = None, tls: tuple[Path, Path] | None = None,
                 implicit_tls: bool = False, smtputf8: bool = True):
        self.port = free_port()
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self.rcpt_script: list[str] = []  # replies for the next RCPT TO commands
        self.logins: list[str] = []
        kwargs: dict = {"enable_SMTPUTF8": smtputf8}  # internationalized addresses (RFC 6531)
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            if implicit_tls:
                kwargs["ssl_context"] = context
            else:
                kwargs.update(tls_context=context, require_starttls=True)
        if login is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          # aiosmtpd counts only STARTTLS as TLS; implicit TLS is TLS too
                          auth_require_tls=tls is not None and not implicit_tls)
        self.login, self._kwargs = login, kwargs
        self.controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and \
            (auth_data.login.decode(), auth_data.password.decode()) == self.login
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    def start(self) -> None:
        """Listen (again, on the same port: a relay back from an outage)."""
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **self._kwargs)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def __enter__(self) -> "FakeSMTP":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
