"""Every complaint closes on every channel, spoken as people really can: a citizen on
Telegram, WhatsApp or the web chat, officers on Telegram, WhatsApp or the web chat, for
every preset: from the first message to an answer, "not solved" with a reason, back to
the unit, answered again, "solved", a rating, closed. The citizen sees each answer
before being asked whether it is solved; every officer hears back on every command.

On PostgreSQL (with the real Redis when configured) every pair of channels runs; on
SQLite with the in-process Redis one pair per preset, in turn (the same code, a ninth of
the time).
"""
from __future__ import annotations

import re
from collections import deque

import pytest
import redis
from sqlalchemy import select

from flows.presets import load_workflow, preset_names
from storage.db import transaction
from storage.models import Case, Rating
from storage.officers import invite
from storage.units import add_unit
from tests.conftest import REDIS_URL, wib
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.wire import SID, TOKEN, World, channel_settings

CHANNELS = ("telegram", "whatsapp", "webchat")
ALL_PAIRS = [(c, o) for c in CHANNELS for o in CHANNELS]
SOME_PAIRS = [("telegram", "whatsapp"), ("whatsapp", "webchat"), ("webchat", "telegram")]
CITIZEN_MOVES = {"provide_info", "accept", "not_resolved"}


def pytest_generate_tests(metafunc):
    if "journey" in metafunc.fixturenames:
        metafunc.parametrize("journey", [(p, c, o) for p in preset_names() for c, o in ALL_PAIRS],
                             ids=lambda j: "-".join(j))


def on_sqlite_too(journey) -> bool:
    """One pair per preset, in turn, so that each channel is the citizen's and the officers'."""
    preset, *pair = journey
    return tuple(pair) == SOME_PAIRS[preset_names().index(preset) % len(SOME_PAIRS)]


@pytest.fixture
def world(make_runtime, database_url, journey):
    preset, citizen_channel, officer_channel = journey
    if not database_url.startswith("postgresql") and not on_sqlite_too(journey):
        pytest.skip("every pair of channels runs on PostgreSQL; SQLite runs one per preset")
    extra = {}
    if database_url.startswith("postgresql") and REDIS_URL:
        # The production pair: PostgreSQL and a real Redis (outbound pacing, chat locks, the
        # web chat's limits, the workers' queue). This worker's own Redis db, emptied first.
        redis.Redis.from_url(REDIS_URL).flushdb()
        extra["redis"] = {"url": REDIS_URL}
    with FakeBotAPI(TOKEN) as telegram_api, FakeTwilioAPI(SID) as twilio_api:
        twilio_api.auth = "twilio-auth"
        runtime = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), workflow={"preset": preset},
                               **channel_settings(telegram_api, twilio_api), **extra)
        yield World(runtime, telegram_api, twilio_api)


def answerable(wf, state) -> bool:
    return wf.transition("accept", state) is not None


def officer_path(wf, start):
    """The shortest run of officers' commands from `start` to a state the citizen can accept."""
    paths, todo = {start: []}, deque([start])
    while todo:
        state = todo.popleft()
        if answerable(wf, state):
            return paths[state]
        for tr in wf.transitions_from(state):
            if tr.command and tr.trigger not in CITIZEN_MOVES and tr.dest not in paths \
                    and not wf.states[tr.dest].final:
                paths[tr.dest] = paths[state] + [tr]
                todo.append(tr.dest)
    raise AssertionError(f"{wf.name}: no officers' path from {start} to an answer")


def state_of(runtime, ticket):
    with runtime.sessions() as s:
        return s.scalar(select(Case.state).where(Case.ticket == ticket))


def file_complaint(citizen, wf) -> str:
    """The citizen's whole form, as they would fill it in on their channel."""
    citizen.say({"telegram": "/start", "whatsapp": "Halo", "webchat": "/mulai"}[citizen.channel])
    citizen.pick("Setuju")
    citizen.pick("Ajukan pengaduan")
    citizen.say("Siti Aminah")
    citizen.say("siti@contoh.go.id")
    if citizen.channel == "telegram":
        citizen.pick("Lewati")  # the phone keyboard's skip button
    elif citizen.channel == "webchat":
        citizen.say("0812 3456 7890")
    citizen.pick("Pengaduan")
    if wf.categories:
        citizen.pick(citizen.options()[0][0])
    citizen.say("Lampu jalan di depan kantor mati sejak seminggu.")
    citizen.pick("Lanjut")
    citizen.pick("Biasa")
    citizen.pick("Kirim pengaduan")
    confirmation = next(t for t in citizen.read() if "nomor tiket" in t)
    return confirmation.split("nomor tiket ")[1].split(".")[0]


def act(world, officers, ticket, path, note):
    """Officers take the case along `path` with their commands; each hears back."""
    for tr in path:
        role = next(r for r in tr.roles if r in officers)
        arg = {"note": f" {note}", "unit": " KEU"}.get(tr.needs, "")
        officers[role].say(f"/{tr.command} {ticket}{arg}")
        assert officers[role].read(), f"{role} heard nothing back after /{tr.command}"
        assert state_of(world.runtime, ticket) == tr.dest, (tr.trigger, state_of(world.runtime, ticket))


def verdict_after_answer(citizen, answer: str) -> None:
    """The citizen has seen the answer, and then the question whether it is solved."""
    texts = citizen.read()
    seen = next((n for n, t in enumerate(texts) if answer in t), None)
    asked = next((n for n, t in enumerate(texts) if "Apakah masalah Anda sudah selesai?" in t), None)
    assert seen is not None and asked is not None and seen <= asked, texts
    if seen == asked:  # in one message: the answer above the question
        assert texts[asked].index(answer) < texts[asked].index("Apakah masalah"), texts[asked]


def test_a_complaint_closes_on_every_channel(world, journey):
    preset, citizen_channel, officer_channel = journey
    runtime, wf = world.runtime, load_workflow(preset)
    with transaction(runtime.sessions) as s:
        add_unit(s, "KEU", "Bagian Keuangan")
        codes = {role: invite(s, wf, role, "KEU" if wf.unit_bound(role) else None)[1] for role, d in wf.roles.items()}
    officers = {}
    for n, (role, code) in enumerate(codes.items()):
        if officer_channel == "webchat":  # officers link the web chat from a chat app
            app = world.person("telegram", 200 + n)
            app.say(f"/petugas {code}")
            app.read()
            app.say("/webchat")
            code = re.search(r"/petugas (\S+)", app.read()[-1])[1]
        officers[role] = world.person(officer_channel, 100 + n)
        officers[role].say(f"/petugas {code}")
        assert any(t.startswith("Anda terdaftar sebagai petugas") for t in officers[role].read()), role
    citizen = world.person(citizen_channel, 1)
    ticket = file_complaint(citizen, wf)

    act(world, officers, ticket, officer_path(wf, wf.initial), "Lampu sudah kami ganti.")
    verdict_after_answer(citizen, "Lampu sudah kami ganti.")
    citizen.say(f"/status {ticket}")  # looks at the case first: its page asks the question again
    assert any(ticket in t and "Apakah masalah Anda sudah selesai?" in t
               for t in citizen.read())
    citizen.say("/status")  # and the list of their cases too
    assert any(f"Pengaduan {ticket} menunggu jawaban Anda" in t for t in citizen.read())
    citizen.pick("Belum selesai")
    citizen.say("Lampunya mati lagi sejak kemarin.")
    back = state_of(runtime, ticket)  # back with the unit
    assert not answerable(wf, back) and not wf.states[back].final, back

    act(world, officers, ticket, officer_path(wf, back), "Kabelnya sudah kami perbaiki.")
    verdict_after_answer(citizen, "Kabelnya sudah kami perbaiki.")
    citizen.pick("Sudah selesai")
    citizen.pick("4")
    citizen.say("Terima kasih, cepat ditangani.")
    assert state_of(runtime, ticket) in {s for s, d in wf.states.items() if d.final}
    with runtime.sessions() as s:
        ratings = s.scalars(select(Rating).order_by(Rating.id)).all()
        assert [(r.solved, r.score, r.comment) for r in ratings] == [
            (False, None, "Lampunya mati lagi sejak kemarin."), (True, 4, "Terima kasih, cepat ditangani.")]
    assert any(ticket in t for t in citizen.read())  # the thanks for the rating
