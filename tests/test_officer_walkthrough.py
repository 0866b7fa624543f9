"""Every state of every preset, reached with chat alone: officers enrol with /petugas and
act with commands; the citizen answers from their own chat as their app lets them (a
WhatsApp citizen types the number of an option). Through the real Telegram and WhatsApp
webhooks, the senders and the fake provider APIs (tests/wire.py)."""
from collections import deque

import pytest
from sqlalchemy import select

from flows.presets import load_workflow, preset_names
from storage.db import transaction
from storage.models import Case
from storage.officers import invite
from storage.units import add_unit
from tests.conftest import wib
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.test_journeys import file_complaint
from tests.wire import SID, TOKEN, World, channel_settings

CITIZEN_MOVES = {"provide_info", "accept", "not_resolved"}


def chat_moves(wf, state):
    """Transitions someone can make from chat: an officer's command or the citizen's reply."""
    for tr in wf.transitions_from(state):
        if tr.trigger in CITIZEN_MOVES and "citizen" in tr.roles:
            yield tr, "citizen"
        elif tr.command:
            yield tr, next(r for r in tr.roles if r in wf.roles)


def paths_to_every_state(wf):
    """The shortest chat-only path from the first state to each state."""
    paths, todo = {wf.initial: []}, deque([wf.initial])
    while todo:
        state = todo.popleft()
        for tr, role in chat_moves(wf, state):
            if tr.dest not in paths:
                paths[tr.dest] = paths[state] + [(tr, role)]
                todo.append(tr.dest)
    return paths


# Each preset on one channel, in turn: the journey matrix (test_journeys.py) has every
# channel with every preset; this walks every state.
WALKS = [(preset, ("whatsapp", "telegram")[n % 2]) for n, preset in enumerate(preset_names())]


@pytest.fixture(params=WALKS, ids=lambda w: "-".join(w))
def walk(request):
    return request.param


@pytest.fixture
def world(make_runtime, walk):
    preset, channel = walk
    with FakeBotAPI(TOKEN) as telegram_api, FakeTwilioAPI(SID) as twilio_api:
        twilio_api.auth = "twilio-auth"
        runtime = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), workflow={"preset": preset},
                               **channel_settings(telegram_api, twilio_api))
        yield channel, World(runtime, telegram_api, twilio_api)


def test_every_state_of_the_preset_from_chat(world, walk):
    preset, _ = walk
    channel, world = world
    runtime = world.runtime
    wf = load_workflow(preset)
    with transaction(runtime.sessions) as s:
        add_unit(s, "KEU", "Bagian Keuangan")
        codes = {role: invite(s, wf, role, "KEU" if wf.unit_bound(role) else None)[1]
                 for role, d in wf.roles.items()}
    officers = {role: world.person(channel, 500 + n) for n, role in enumerate(wf.roles)}
    for role, code in codes.items():  # each officer enrols from their own chat
        officers[role].say(f"/petugas {code}")
        assert officers[role].read(), role

    reached = set()
    for n, (target, path) in enumerate(sorted(paths_to_every_state(wf).items())):
        citizen = world.person(channel, 9000 + n)
        ticket = file_complaint(citizen, wf)
        for tr, role in path:
            if role == "citizen":
                if tr.trigger == "provide_info":
                    citizen.say("Ini fotonya dan alamat lengkapnya.")
                    citizen.pick("Selesai")
                else:
                    citizen.pick("Belum selesai" if tr.trigger == "not_resolved" else "Sudah selesai")
                    if tr.trigger == "not_resolved":
                        citizen.say("Masih belum beres.")
                    else:  # solved: a rating and (skipped) comment close it
                        citizen.pick("5")
                        citizen.pick("Lewati")
            else:
                arg = {"note": " Catatan petugas", "unit": " KEU"}.get(tr.needs, "")
                officers[role].say(f"/{tr.command} {ticket}{arg}")
                assert officers[role].read(), (role, tr.command)  # every officer hears back
            with runtime.sessions() as s:
                state = s.scalar(select(Case.state).where(Case.ticket == ticket))
            assert state == tr.dest, (preset, channel, tr.trigger, role, state)
        reached.add(target)
    assert reached == set(wf.states), set(wf.states) - reached
