"""Coming back with ticket + access code: `/status TICKET KODE` from any chat shows the case;
a wrong code answers exactly like a ticket that does not exist, and guessing is throttled."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storage import access
from storage.db import transaction
from storage.models import AccessAttempt, Case
from tests.chat import Chat
from tests.conftest import wib

NOW = wib(2025, 4, 8, 9, 0)


@pytest.fixture
def runtime(make_runtime):
    return make_runtime(clock=lambda: NOW)


def visitor(runtime, chat_id, channel="webchat"):
    """Someone new on a chat, past the privacy notice (typed: every channel carries text).
    Before agreeing, any message, /status too, answers with the notice."""
    chat = Chat(runtime, channel=channel, chat_id=chat_id)
    chat.say("/mulai")
    assert chat.say("Setuju") == ["Silakan pilih menu:"]
    return chat


@pytest.fixture
def filed(runtime):
    chat = Chat(runtime, chat_id="w-first-browser")
    ticket = chat.file_complaint()
    line = next(p["text"] for p in chat.last if p["text"].startswith("Kode akses pengaduan ini: "))
    code = line.split(": ")[1].split("\n")[0]
    assert f"kirim /status {ticket} {code}" in line
    return ticket, code


def test_the_code_is_shown_once_and_kept_only_as_a_hash(runtime, filed):
    ticket, code = filed
    assert len(code) == 9 and code[4] == "-" and set(code.replace("-", "")) <= set(access.ALPHABET)
    with runtime.sessions() as s:
        case = s.scalar(select(Case))
        assert case.access_code_hash == access.code_hash(ticket, code) and code not in case.access_code_hash


@pytest.mark.parametrize("channel, chat_id", [("webchat", "w-second-browser"), ("telegram", "777001"),
                                              ("whatsapp", "+6281299990000")])
def test_the_code_opens_the_case_from_another_chat(runtime, filed, channel, chat_id):
    ticket, code = filed
    other = visitor(runtime, chat_id, channel)
    assert other.say(f"/status {ticket}") == [f"Pengaduan {ticket} tidak ditemukan."]  # no code: not theirs
    [detail] = other.say(f"/status {ticket} {code}")
    assert detail.startswith(f"{ticket}: Belum Terverifikasi") and "Riwayat:" in detail
    # typed by hand: lower case, without the dash, with spaces around
    assert other.say(f"/status {ticket.lower()}   {code.replace('-', '').lower()} ")[0] == detail


def test_a_wrong_code_answers_like_an_unknown_ticket(runtime, filed):
    ticket, code = filed
    other = visitor(runtime, "w-stranger")
    wrong = other.say(f"/status {ticket} AAAA-AAAA")
    unknown = other.say("/status ADU-2025-009999 AAAA-AAAA")
    assert wrong == [f"Pengaduan {ticket} tidak ditemukan."]
    assert unknown == ["Pengaduan ADU-2025-009999 tidak ditemukan."]
    assert wrong[0].replace(ticket, "T") == unknown[0].replace("ADU-2025-009999", "T")


def test_wrong_codes_are_throttled_per_chat(runtime, filed):
    ticket, code = filed
    guesser = visitor(runtime, "w-guesser")
    for n in range(access.PER_GUESSER):
        assert guesser.say(f"/status ADU-2025-00000{n + 2} BBBB-BBBB")[0].endswith("tidak ditemukan.")
    # now even the right code is not looked at from this chat ...
    assert guesser.say(f"/status {ticket} {code}") == [
        "Terlalu banyak kode akses yang salah. Silakan coba lagi satu jam lagi."]
    # ... while the citizen, from another chat, is not held up by it
    assert visitor(runtime, "w-owner-phone").say(f"/status {ticket} {code}")[0].startswith(ticket)


def test_wrong_codes_are_throttled_per_ticket_across_chats(runtime, filed):
    ticket, code = filed
    for n in range(access.PER_TICKET):  # a fresh web chat for every guess
        visitor(runtime, f"w-bot-{n}").say(f"/status {ticket} CCCC-CC{n:02d}")
    assert visitor(runtime, "w-bot-last").say(f"/status {ticket} {code}")[0].startswith("Terlalu banyak")
    # a ticket that does not exist is throttled the same: the throttle tells nothing either
    for n in range(access.PER_TICKET):
        visitor(runtime, f"w-bot2-{n}").say(f"/status ADU-2025-009999 CCCC-CC{n:02d}")
    assert visitor(runtime, "w-bot2-last").say("/status ADU-2025-009999 X")[0].startswith("Terlalu banyak")


def test_the_throttle_lasts_an_hour_and_forgets(runtime, filed):
    ticket, code = filed
    with transaction(runtime.sessions) as s:
        for n in range(access.PER_GUESSER):
            assert access.open_with_code(s, ticket, "DDDD-DDDD", "citizen:99", NOW) is None
        with pytest.raises(access.Throttled):
            access.open_with_code(s, ticket, code, "citizen:99", NOW + timedelta(minutes=59))
        assert access.open_with_code(s, ticket, code, "citizen:99", NOW + timedelta(minutes=61)).ticket == ticket
        assert s.scalar(select(func.count()).select_from(AccessAttempt)) == 0  # deleted as we go


def test_a_case_from_before_codes_opens_with_no_code(runtime, filed):
    ticket, code = filed
    with transaction(runtime.sessions) as s:
        s.scalar(select(Case)).access_code_hash = None
    assert visitor(runtime, "w-late").say(f"/status {ticket} {code}") == [
        f"Pengaduan {ticket} tidak ditemukan."]


def test_status_with_the_code_as_the_first_message_is_answered_after_consent(runtime, filed):
    ticket, code = filed
    other = Chat(runtime, chat_id="w-fresh-browser")
    assert "UU 27/2022" in other.say(f"/status {ticket} {code}")[1]  # the notice comes first
    answer = other.say("Setuju")
    assert answer[0].startswith(f"{ticket}: Belum Terverifikasi") and answer[-1] == "Silakan pilih menu:"
