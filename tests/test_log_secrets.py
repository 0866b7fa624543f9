"""Secrets and personal data never reach a log line (issue 11, item 3).

Whole journeys (tests/test_journeys.py: a complaint filed, handled by officers, not solved,
handled again, solved, rated) run on every channel as citizen and as officers, through the
real python-telegram-bot, httpx and twilio clients, with logging set up the way `aduan run`
sets it up (bot.logs) and the root handler capturing everything at DEBUG. The output holds
no bot token, webhook secret, Twilio auth token, web chat key, name, email, phone number
or complaint text.
"""
from __future__ import annotations

import io
import logging

import pytest

from bot import logs
from tests import test_journeys as journeys
from tests.conftest import wib
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.wire import AUTH, SECRET, SID, TOKEN, World, channel_settings

WEBCHAT_KEY = "webchat-signing-key-0123456789"
PAIRS = [("telegram", "whatsapp"), ("whatsapp", "webchat"), ("webchat", "telegram")]
PERSONAL = ["Siti Aminah", "siti@contoh.go.id", "0812 3456 7890", "+6281234567890", "6281234567890",
            "Lampu jalan di depan kantor", "Lampu sudah kami ganti", "Kabelnya sudah kami perbaiki",
            "Lampunya mati lagi", "Terima kasih, cepat ditangani",
            "+628110000001", "628110000001"]  # the WhatsApp citizen's number is their chat id


@pytest.fixture
def world(make_runtime):
    with FakeBotAPI(TOKEN) as telegram_api, FakeTwilioAPI(SID) as twilio_api:
        twilio_api.auth = AUTH
        runtime = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), workflow={"preset": "sp4n-lapor"},
                               webchat={"secret_key": WEBCHAT_KEY}, **channel_settings(telegram_api, twilio_api))
        yield World(runtime, telegram_api, twilio_api)


@pytest.fixture
def captured(world):
    """The root handler's output, at DEBUG, set up as `aduan run` sets it up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(logs.FORMAT))
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in (*logs.QUIET, "")}
    root.addHandler(handler)
    logs.setup(world.runtime, level=logging.DEBUG)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def leaks(text: str) -> list[str]:
    return [s for s in [TOKEN, SECRET, AUTH, WEBCHAT_KEY, *PERSONAL] if s in text]


@pytest.mark.parametrize("pair", PAIRS, ids="-".join)
def test_whole_journeys_log_no_secret_and_no_personal_data(world, captured, pair):
    journeys.test_a_complaint_closes_on_every_channel(world, ("sp4n-lapor", *pair))
    output = captured.getvalue()
    assert "enrolled on" in output and "outbox" in output  # the loggers did write
    assert leaks(output) == [], [line for line in output.splitlines() if leaks(line)][:5]


def test_a_library_that_logs_its_urls_is_redacted_all_the_same(world, captured):
    """Belt and braces: with httpx (and PTB) back at INFO, the token in the request line
    and in an error's traceback is still masked by the filter on the root handler."""
    logging.getLogger("httpx").setLevel(logging.INFO)
    citizen = world.person("telegram", 1)
    citizen.say("/start")
    assert citizen.read()
    try:
        raise RuntimeError(f"POST {world.telegram_api.url}/bot{TOKEN}/sendMessage failed")
    except RuntimeError:
        logging.getLogger("bot.test").exception("sending failed with %s", AUTH)
    output = captured.getvalue()
    assert "/bot***/sendMessage" in output and "HTTP Request" in output
    assert "sending failed with ***" in output
    assert leaks(output) == [], [line for line in output.splitlines() if leaks(line)][:5]


def test_the_filter_masks_real_shaped_tokens_and_configured_secrets():
    redact = logs.Redact()
    redact.add("s3cr3t-value", None, "ab")  # too short to mask: would blank out words
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET %s key=%s ab", (
        "https://api.telegram.org/bot7312345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe", "s3cr3t-value"), None)
    redact.filter(record)
    assert record.getMessage() == "GET https://api.telegram.org/bot***/getMe key=*** ab"
    assert redact.scrub("token 7312345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw") == "token ***"
