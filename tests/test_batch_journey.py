"""The whole journey with the workers' batches: four citizens on WhatsApp file at the same
time (typed words and numbers, as WhatsApp lets them), officers on WhatsApp take the
cases on with their commands while the citizens write, each citizen sees the answer,
says it is solved, rates, and the case closes. Every message of a step is stored
before any is handled, so the workers handle several chats in one transaction (as
under load), on both databases; every officer hears back on every command."""
from __future__ import annotations

from sqlalchemy import select

from flows.presets import DEFAULT_PRESET, load_workflow
from storage.db import transaction
from storage.models import Case, Rating
from storage.officers import invite
from storage.units import add_unit
from tests.conftest import wib
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.test_journeys import officer_path, verdict_after_answer
from tests.wire import SID, TOKEN, World, channel_settings


def test_four_whatsapp_complaints_close_with_batched_handling(make_runtime):
    with FakeBotAPI(TOKEN) as telegram_api, FakeTwilioAPI(SID) as twilio_api:
        twilio_api.auth = "twilio-auth"
        runtime = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), handle=False, inbound={"batch": 8},
                               **channel_settings(telegram_api, twilio_api))
        batches = []
        handle_batch = runtime.inbound.handle_batch

        def counted(*args, **kwargs):
            handled, rest = handle_batch(*args, **kwargs)
            batches.append(handled)
            return handled, rest

        runtime.inbound.handle_batch = counted
        world, wf = World(runtime, telegram_api, twilio_api), load_workflow(DEFAULT_PRESET)

        def together(*moves):
            """Everyone's message of this step stored, then the workers handle them."""
            for move in moves:
                move()
            runtime.inbound.drain()

        with transaction(runtime.sessions) as s:
            add_unit(s, "KEU", "Bagian Keuangan")
            codes = {role: invite(s, wf, role, "KEU" if wf.unit_bound(role) else None)[1] for role in wf.roles}
        officers = {role: world.person("whatsapp", 100 + n) for n, role in enumerate(codes)}
        together(*(lambda o=officers[r], c=c: o.say(f"/petugas {c}") for r, c in codes.items()))
        for role, officer in officers.items():
            assert any(t.startswith("Anda terdaftar sebagai petugas") for t in officer.read()), role

        citizens = [world.person("whatsapp", n) for n in range(1, 5)]
        steps = [("say", "Halo"), ("pick", "Setuju"), ("pick", "Ajukan pengaduan"), ("say", "Siti Aminah"),
                 ("say", "siti@contoh.go.id"), ("pick", "Pengaduan")]
        if wf.categories:
            steps.append(("first", None))
        steps += [("say", "Lampu jalan di depan kantor mati sejak seminggu."), ("pick", "Lanjut"),
                  ("pick", "Biasa"), ("pick", "Kirim pengaduan")]
        for how, what in steps:
            together(*(_move(c, how, what) for c in citizens))
        tickets = []
        for citizen in citizens:
            confirmation = next(t for t in citizen.read() if "nomor tiket" in t)
            tickets.append(confirmation.split("nomor tiket ")[1].split(".")[0])
        assert len(set(tickets)) == 4

        # the officers' commands, each in a step with the citizens still waiting for an answer
        # asking for their status (one who has the answer is left to answer its question: a
        # typed "1" answers the last message, if it offered choices)
        for n, ticket in enumerate(tickets):
            for tr in officer_path(wf, wf.initial):
                role = next(r for r in tr.roles if r in officers)
                arg = {"note": " Lampu sudah kami ganti.", "unit": " KEU"}.get(tr.needs, "")
                others = citizens[n + 1:]
                together(lambda o=officers[role], cmd=f"/{tr.command} {ticket}{arg}": o.say(cmd),
                         *(lambda c=c: c.say("/status") for c in others))
                assert officers[role].read(), f"{role} heard nothing back after /{tr.command}"
        for citizen in citizens:
            verdict_after_answer(citizen, "Lampu sudah kami ganti.")
        together(*(_move(c, "pick", "Sudah selesai") for c in citizens))
        together(*(_move(c, "pick", "4") for c in citizens))
        together(*(_move(c, "say", "Terima kasih.") for c in citizens))

        finals = {s for s, d in wf.states.items() if d.final}
        with runtime.sessions() as s:
            assert {s.scalar(select(Case.state).where(Case.ticket == t)) for t in tickets} <= finals
            assert sorted((r.solved, r.score) for r in s.scalars(select(Rating))) == [(True, 4)] * 4
        for citizen, ticket in zip(citizens, tickets):
            assert any(ticket in t for t in citizen.read())  # the thanks for the rating
        assert max(batches) > 1, batches  # chats were handled together


def _move(citizen, how, what):
    if how == "say":
        return lambda: citizen.say(what)
    if how == "pick":
        return lambda: citizen.pick(what)
    return lambda: citizen.pick(citizen.options()[0][0])  # the first category offered
