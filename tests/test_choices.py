"""Every choice answerable by number, word or label, in its own context: the choices a
chat was last given are what "1" answers, whoever asked; an unclear answer asks the same
question again. And officers reachable on WhatsApp: their own 24-hour window, an
approved template outside it, and never a silent hold."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from flows.choices import pick
from flows.messages import Button
from handlers.digests import daily
from storage.db import transaction
from storage.models import Case, Officer, Outbox, Rating
from storage.officers import invite
from storage.units import add_unit
from tests.conftest import wib
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.wire import SID, TOKEN, World, channel_settings

VERDICT = [Button("Sudah selesai", "yes"), Button("Belum selesai", "no")]
SCALE = [Button(str(n), f"rate|{n}") for n in range(1, 6)]


@pytest.mark.parametrize("text, options, picked", [
    ("1", VERDICT, "yes"), ("2.", VERDICT, "no"), ("dua", VERDICT, "no"), ("3", VERDICT, None),
    ("Belum selesai", VERDICT, "no"), ("belum", VERDICT, "no"), ("sudah", VERDICT, "yes"),
    ("selesai", VERDICT, None),  # fits both: no guess
    ("belum selesai sama sekali, lampunya masih mati", VERDICT, None),  # a message, not a choice
    ("4", SCALE, "rate|4"), ("empat", SCALE, "rate|4"), ("four", SCALE, "rate|4"), ("0", SCALE, None),
    ("", VERDICT, None),
])
def test_a_typed_answer_names_one_option_or_none(text, options, picked):
    assert pick(text, options) == picked


@pytest.fixture
def clock():
    return [wib(2025, 4, 8, 9, 0)]


@pytest.fixture
def world(make_runtime, clock, request):
    templates = getattr(request, "param", {})
    with FakeBotAPI(TOKEN) as telegram_api, FakeTwilioAPI(SID) as twilio_api:
        twilio_api.auth = "twilio-auth"
        runtime = make_runtime(clock=lambda: clock[0], **channel_settings(telegram_api, twilio_api, templates))
        with transaction(runtime.sessions) as s:
            add_unit(s, "KEU", "Bagian Keuangan")
        yield World(runtime, telegram_api, twilio_api)


def officer(world, role, channel, n, unit=None):
    with transaction(world.runtime.sessions) as s:
        _, code = invite(s, world.runtime.workflow, role, unit, now=world.runtime.clock())
    person = world.person(channel, n)
    person.say(f"/petugas {code}")
    assert person.read()[0].startswith("Anda terdaftar sebagai petugas")
    return person


def answered(world, citizen) -> str:
    """A complaint from `citizen`, answered by the unit from WhatsApp and Telegram."""
    from tests.test_journeys import file_complaint

    admin, unit = officer(world, "admin", "whatsapp", 50), officer(world, "unit_officer", "telegram", 51, "KEU")
    ticket = file_complaint(citizen, world.runtime.workflow)
    for who, command in ((admin, f"/disposisi {ticket} KEU"), (unit, f"/proses {ticket}"),
                         (unit, f"/jawab {ticket} Lampu sudah diganti.")):
        who.say(command)
        assert who.read()
    return ticket


def state(world, ticket):
    with world.runtime.sessions() as s:
        return s.scalar(select(Case.state).where(Case.ticket == ticket))


def test_on_whatsapp_1_after_the_answer_is_solved_not_a_new_complaint(world):
    citizen = world.person("whatsapp", 1)
    ticket = answered(world, citizen)
    asked = citizen.read()[-1]
    assert asked.endswith("Apakah masalah Anda sudah selesai?\n\n1. Sudah selesai\n2. Belum selesai")
    citizen.say("1")
    assert citizen.read()[0].startswith(f"Terima kasih. Berapa nilai Anda untuk penanganan {ticket}")
    citizen.say("lima")
    citizen.say("Lewati")
    assert state(world, ticket) == "closed"
    with world.runtime.sessions() as s:
        assert s.scalar(select(Rating.score)) == 5
        assert s.scalar(select(Case.id).where(Case.ticket != ticket)) is None  # no new complaint


@pytest.mark.parametrize("answer", ["2", "belum", "Belum selesai", "BELUM SELESAI"])
def test_not_solved_by_number_word_or_label(world, answer):
    citizen = world.person("whatsapp", 2)
    ticket = answered(world, citizen)
    citizen.read()
    citizen.say(answer)
    assert citizen.read() == ["Mohon jelaskan apa yang belum selesai."]
    citizen.say("Lampunya mati lagi.")
    assert state(world, ticket) == "in_progress"


def test_an_unclear_answer_asks_the_same_question_again(world):
    citizen = world.person("whatsapp", 3)
    ticket = answered(world, citizen)
    question = citizen.read()[-1]
    citizen.say("hmm maksudnya apa ya?")
    again = citizen.read()
    assert again[0].startswith("Maaf, jawaban Anda belum kami pahami.") and again[1] == question
    citizen.say("selesai")  # fits both options: asked again, nothing guessed
    assert citizen.read()[1] == question and state(world, ticket) == "answered"


def test_the_menu_answers_1_only_when_it_was_the_last_question(world):
    citizen = world.person("whatsapp", 4)
    citizen.say("halo")
    citizen.say("1")  # the consent question: 1 = Setuju
    assert citizen.read()[-1].startswith("Silakan pilih menu:")
    citizen.say("1")  # the menu: 1 = Ajukan pengaduan
    assert citizen.read()[-1].startswith("Siapa nama Anda?")
    citizen.say("Siti Aminah")
    citizen.say("Lewati")  # the email: skipped by the option's label
    assert citizen.read()[-1].startswith("Jenis laporan")


def test_in_english_too(world):
    citizen = world.person("whatsapp", 5)
    citizen.say("hello")
    citizen.say("3")  # English
    assert "1. Agree" in citizen.read()[-1]
    citizen.say("agree")
    assert citizen.read()[-1].startswith("Please choose")


def test_an_officer_on_whatsapp_hears_back_at_once(world):
    admin = officer(world, "admin", "whatsapp", 60)
    admin.say("/antrian")
    assert admin.read() == ["Tidak ada kasus yang menunggu Anda."]
    with world.runtime.sessions() as s:
        assert s.scalar(select(Outbox).where(Outbox.status == "held")) is None


@pytest.mark.parametrize("world", [{"officer": "HX" + "2" * 32}], indirect=True)
def test_outside_the_window_officer_notices_go_as_the_officer_template(world, clock):
    admin = officer(world, "admin", "whatsapp", 61)
    clock[0] += timedelta(hours=25)
    world.person("webchat", 7).say("/mulai")  # a new citizen: nothing for the officer yet
    from tests.test_journeys import file_complaint

    file_complaint(world.person("telegram", 8), world.runtime.workflow)
    assert any("Pengaduan baru" in t for t in admin.read())
    sent = [p for p in world.twilio_api.sent() if p.get("To") == f"whatsapp:{admin.number}"]
    assert sent[-1]["ContentSid"] == "HX" + "2" * 32


def test_a_held_officer_message_is_never_silent(world, clock):
    admin = officer(world, "admin", "whatsapp", 62)
    with transaction(world.runtime.sessions) as s:  # the same officer on Telegram too
        officer_id = s.scalar(select(Officer.id))
        _, code = invite(s, world.runtime.workflow, "admin", now=clock[0])
    telegram = world.person("telegram", 63)
    with transaction(world.runtime.sessions) as s:
        from storage.models import OfficerIdentity

        s.add(OfficerIdentity(officer_id=officer_id, channel="telegram", external_id=str(telegram.chat_id)))
    clock[0] += timedelta(hours=25)
    from tests.test_journeys import file_complaint

    file_complaint(world.person("webchat", 9), world.runtime.workflow)
    assert admin.read() == []  # outside the window, and no template: held
    told = telegram.read()
    assert any("tertahan di WhatsApp" in t for t in told), told
    assert sum("tertahan" in t for t in told) == 1  # once, not per message
    with world.runtime.sessions() as s:
        digest = daily(s, world.runtime.officers.office, s.get(Officer, officer_id), clock[0])
    assert "pesan untuk Anda tertahan di WhatsApp" in digest.text
    admin.say("/antrian")  # the officer writes: what waited goes
    assert any("Pengaduan baru" in t for t in admin.read())
