"""Logging as every Aduan process sets it up: secrets never reach a log line.

The HTTP clients under the channels log what they do: httpx writes every request line at
INFO, and a Telegram request line holds the bot token (`POST .../bot<TOKEN>/sendMessage`);
python-telegram-bot logs the parameters of each call at DEBUG (the texts, with names and
numbers); twilio's client writes request headers and query parameters at INFO. Whoever
reads such a log can post as the office and move its webhook. So:

- those libraries log at WARNING only (their warnings and errors still show), and
- a filter on every root handler rewrites a Telegram token in any URL (`bot<digits>:<secret>`)
  and every configured secret to `***`, in the message, its arguments and a traceback, so
  that also an error line or a library we did not think of cannot leak one.

Personal data is kept out by what our own code logs (ids and counts, never texts, names or
numbers) and by `hide_parameters` on the engine (storage.db); tests/test_log_secrets.py
runs whole journeys through these loggers and looks for both.
"""
from __future__ import annotations

import logging
import re
import traceback

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log requests (URLs, headers, parameters): their warnings and errors only.
QUIET = ("httpx", "httpcore", "telegram", "twilio", "urllib3", "hpack", "aiohttp")
# bot<id>:<secret> in a Bot API URL, and a bare token (e.g. quoted in an error message).
_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]+|\b\d{5,}:[A-Za-z0-9_-]{30,}\b")
_SIGN_IN = re.compile(r"(/kantor/masuk/)[A-Za-z0-9_-]{20,}")  # a back office sign-in link's one-time token
MIN_SECRET = 4  # shorter "secrets" would blank out ordinary words; config refuses none this short anyway
MASK = "***"


class Redact(logging.Filter):
    """Rewrites tokens and the configured secrets in a record; never drops a record."""

    def __init__(self):
        super().__init__("aduan-redact")
        self.secrets: set[str] = set()

    def add(self, *secrets: str | None) -> None:
        self.secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET)

    def scrub(self, text: str) -> str:
        text = _TOKEN.sub(lambda m: "bot" + MASK if m[0].startswith("bot") else MASK, text)
        text = _SIGN_IN.sub(r"\g<1>" + MASK, text)
        for secret in sorted(self.secrets, key=len, reverse=True):  # a longer one may hold a shorter
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we can read
            message = str(record.msg)
        record.msg, record.args = self.scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True


REDACT = Redact()  # one per process: a runtime adds its secrets as it starts


def secrets_of(runtime) -> list[str]:
    """The secrets of a runtime's settings: a deployment's (the first office's), or one
    office's (its own bot and account, when bot.runtime builds it)."""
    s = runtime.settings
    found = [x.get_secret_value() if x is not None else None
             for x in (s.telegram.token, s.telegram.secret_token, s.whatsapp.auth_token,
                       s.webchat.secret_key, s.email.password)]
    return found + [runtime.secret_key()]  # the web chat's signing key, configured or made in var/


def protect(runtime, *loggers: logging.Logger) -> None:
    """Quiet the request-logging libraries and put the filter on the handlers of the root
    logger and of `loggers` (Flask's app.logger may have its own). Safe to call again: a
    handler gets the filter once."""
    REDACT.add(*secrets_of(runtime))
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    root = logging.getLogger()
    if not root.handlers:  # e.g. under gunicorn: Python's last resort would print unfiltered
        fallback = logging.StreamHandler()
        fallback.setLevel(logging.WARNING)
        fallback.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(fallback)
    # gunicorn's own loggers have handlers of their own (its access log has the request
    # line: a sign-in link's path among them)
    servers = [logging.getLogger(name) for name in ("gunicorn.access", "gunicorn.error")]
    for handler in [h for lg in (root, *servers, *loggers) for h in lg.handlers]:
        if REDACT not in handler.filters:
            handler.addFilter(REDACT)


def setup(runtime, level: int = logging.INFO) -> None:
    """What `aduan run`, `aduan worker` and `aduan scheduler` do first."""
    logging.basicConfig(level=level, format=FORMAT)
    protect(runtime)
