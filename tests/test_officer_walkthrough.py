"""Every state of every preset, reached with chat alone: officers enrol with /petugas and
act with commands; the citizen answers from their own chat. Through the real Telegram
and WhatsApp webhooks, with the fake provider APIs behind the outbox."""
from collections import deque

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.app import create_app
from bot.outbound import Dispatcher
from flows.presets import load_workflow, preset_names
from storage.db import transaction
from storage.models import Case
from storage.officers import invite
from storage.units import add_unit
from tests.conftest import wib
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI

CITIZEN_MOVES = {"provide_info", "accept", "not_resolved"}
TOKEN, SECRET = "123:TEST", "walk-secret"
SID, AUTH, PUBLIC_URL = "AC" + "0" * 32, "twilio-auth", "https://aduan.contoh.go.id/webhooks/whatsapp"


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


class TelegramSide:
    def __init__(self, client):
        self.client, self.ids = client, iter(range(10_000, 10**9))

    def send(self, chat, text=None, button=None):
        uid = next(self.ids)
        user = {"id": chat, "is_bot": False, "first_name": "U"}
        if button is not None:
            update = {"update_id": uid, "callback_query": {"id": f"q{uid}", "chat_instance": "1", "data": button,
                      "from": user, "message": {"message_id": 1, "date": 1, "chat": {"id": chat, "type": "private"}}}}
        else:
            update = {"update_id": uid, "message": {"message_id": uid, "date": 1, "text": text, "from": user,
                                                    "chat": {"id": chat, "type": "private"}}}
        r = self.client.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert r.status_code == 200, r.data


class WhatsAppSide:
    def __init__(self, client):
        self.client, self.ids = client, iter(range(10_000, 10**9))

    def send(self, chat, text=None, button=None):
        params = {"MessageSid": f"SM{next(self.ids):032d}", "From": f"whatsapp:+62811{chat:07d}",
                  "To": "whatsapp:+14155238886", "NumMedia": "0", "Body": text or ""}
        if button is not None:
            params["ButtonPayload"] = button
        signature = RequestValidator(AUTH).compute_signature(PUBLIC_URL, params)
        r = self.client.post("/webhooks/whatsapp", data=params, headers={"X-Twilio-Signature": signature})
        assert r.status_code == 200, r.data


@pytest.fixture(params=["telegram", "whatsapp"])
def provider(request):
    fake = FakeBotAPI(TOKEN) if request.param == "telegram" else FakeTwilioAPI(SID)
    with fake:
        yield request.param, fake


@pytest.mark.parametrize("preset", preset_names())
def test_every_state_of_the_preset_from_chat(make_runtime, provider, preset):
    channel, fake = provider
    sections = {"workflow": {"preset": preset}}
    if channel == "telegram":
        sections["telegram"] = {"token": TOKEN, "secret_token": SECRET, "api_base_url": fake.url}
    else:
        sections["whatsapp"] = {"account_sid": SID, "auth_token": AUTH, "from_number": "+14155238886",
                                "public_url": PUBLIC_URL, "api_base_url": fake.url}
    runtime = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), **sections)
    client = create_app(runtime=runtime).test_client()
    side = TelegramSide(client) if channel == "telegram" else WhatsAppSide(client)
    wf = load_workflow(preset)
    with transaction(runtime.sessions) as s:
        add_unit(s, "KEU", "Bagian Keuangan")
        codes = {role: invite(s, wf, role, "KEU" if d.kind == "officer" else None)[1]
                 for role, d in wf.roles.items()}
    officer_chat = {role: 500 + n for n, role in enumerate(wf.roles)}
    for role, code in codes.items():  # each officer enrols from their own chat
        side.send(officer_chat[role], f"/petugas {code}")

    reached = set()
    for n, (target, path) in enumerate(sorted(paths_to_every_state(wf).items())):
        citizen = 9000 + n
        for text in ("/mulai",):
            side.send(citizen, text)
        for button in ("agree", "file"):
            side.send(citizen, button=button)
        for text in ("Siti Aminah", "siti@contoh.go.id"):
            side.send(citizen, text)
        if channel == "telegram":
            side.send(citizen, button="skip")  # phone (WhatsApp knows it)
        side.send(citizen, button="pengaduan")
        if wf.categories:
            side.send(citizen, "1")
        side.send(citizen, "Pelayanan di loket lambat sekali minggu ini.")
        side.send(citizen, button="next")
        side.send(citizen, button="biasa")
        side.send(citizen, button="submit")
        with runtime.sessions() as s:
            ticket = s.scalars(select(Case.ticket).order_by(Case.id.desc())).first()
        for tr, role in path:
            if role == "citizen":
                if tr.trigger == "provide_info":
                    side.send(citizen, "Ini fotonya dan alamat lengkapnya.")
                    side.send(citizen, button="done")
                else:
                    side.send(citizen, button=f"c|{tr.trigger}|{ticket}")
                    if tr.trigger == "not_resolved":
                        side.send(citizen, "Masih belum beres.")
                    else:  # solved: a rating and (skipped) comment close it
                        side.send(citizen, button="rate|5")
                        side.send(citizen, button="skip")
            else:
                arg = {"note": " Catatan petugas", "unit": " KEU"}.get(tr.needs, "")
                side.send(officer_chat[role], f"/{tr.command} {ticket}{arg}")
            with runtime.sessions() as s:
                state = s.scalar(select(Case.state).where(Case.ticket == ticket))
            assert state == tr.dest, (preset, channel, tr.trigger, role, state)
        reached.add(target)
    assert reached == set(wf.states), set(wf.states) - reached
    # and the providers really got the conversation
    Dispatcher(runtime, runtime.senders, sleep=lambda s: None,
               limits={channel: (0.0, 10_000)}).run_once()
    assert len(fake.sent()) > 20
