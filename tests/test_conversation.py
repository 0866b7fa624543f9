"""The citizen's conversation, channel-neutral, through the same path as a webhook."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from flows.case_fields import ActorType
from storage.cases import Actor
from storage.db import transaction
from storage.models import Attachment, Case, CaseEvent, Citizen, Dialog, InboundMessage, Outbox
from flows.messages import Attachment as Attachment_
from tests.chat import Chat, photo
from tests.conftest import wib

ADMIN = Actor(ActorType.OFFICER, "admin", 1)


@pytest.fixture
def runtime(make_runtime):
    return make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), office={"name": "BPS Kota Contoh"})


def test_consent_comes_first_and_is_kept(runtime):
    chat = Chat(runtime)
    replies = chat.say("halo")
    assert replies[0] == "Selamat datang di layanan pengaduan BPS Kota Contoh."
    assert "UU 27/2022" in replies[1] and "5 tahun" in replies[1]
    assert chat.say("Saya mau lapor")[0] == "Mohon pilih Setuju atau Tidak setuju terlebih dahulu."
    assert chat.say("setuju") == ["Silakan pilih menu:"]
    with runtime.sessions() as s:
        assert s.scalar(select(Citizen)).consent_at == wib(2025, 4, 8, 9, 0)


def test_declining_consent(runtime):
    chat = Chat(runtime)
    chat.say("/mulai")
    assert "Tanpa persetujuan" in chat.say(button="disagree")[0]
    assert "UU 27/2022" in chat.say("halo")[1]  # asked again next time


def test_a_whole_complaint(runtime):
    chat = Chat(runtime)
    chat.say("/mulai")
    chat.say(button="agree")
    assert chat.say(button="file")[1] == "Siapa nama Anda?"
    assert "email" in chat.say("Siti Aminah")[0]
    assert "telepon" in chat.say("siti@contoh.go.id")[0]
    assert chat.say("0812-3456-7890")[1] == "Jenis laporan Anda?"
    assert "Tuliskan pengaduan" in chat.say("1")[0]
    chat.say("Lampu jalan di depan kantor mati sejak seminggu.")
    assert "(1/5)" in chat.say(attachments=[photo()])[0]
    chat.say(button="next")
    summary = chat.say(button="biasa")[0]
    assert "Siti Aminah" in summary and "+6281234567890" in summary and "Lampiran: 1" in summary
    replies = chat.say(button="submit")
    assert replies[0].startswith("Terima kasih, pengaduan Anda sudah kami terima dengan nomor tiket ADU-2025-000001.")
    # 8 April 09.00 + 3 working days = Friday 11 April, closing 16.30
    assert replies[1] == "Tahap berikutnya: Admin memverifikasi laporan, paling lambat Jumat, 11 April 2025 pukul 16.30 WIB."
    assert replies[2].startswith("Kode akses pengaduan ini: ")  # the office is open: no opening note
    assert replies[3] == "Silakan pilih menu:"
    with runtime.sessions() as s:
        case = s.scalar(select(Case))
        assert (case.kind, case.channel, case.privacy, case.text) == \
            ("pengaduan", "webchat", "biasa", "Lampu jalan di depan kantor mati sejak seminggu.")
        assert (case.citizen.name, case.citizen.email, case.citizen.phone) == \
            ("Siti Aminah", "siti@contoh.go.id", "+6281234567890")
        assert s.scalar(select(Attachment)).provider_ref == "AgAD-photo"
        assert s.scalar(select(func.count()).select_from(Dialog)) == 0


def test_outside_office_hours_the_reply_says_when_it_opens(make_runtime):
    runtime = make_runtime(clock=lambda: wib(2025, 3, 27, 19, 0))  # Thursday evening before Nyepi
    chat = Chat(runtime)
    chat.file_complaint()
    with runtime.sessions() as s:
        rows = s.scalars(select(Outbox.payload).order_by(Outbox.id)).all()
    texts = [p["text"] for p in rows]
    assert "Tahap berikutnya: Admin memverifikasi laporan, paling lambat Jumat, 11 April 2025 pukul 16.30 WIB." in texts
    assert "Saat ini di luar jam layanan. Kantor buka kembali Selasa, 8 April 2025 pukul 07.30 WIB." in texts


@pytest.mark.parametrize("steps", [0, 1, 3, 5, 7])
def test_cancel_works_at_every_step(runtime, steps):
    chat = Chat(runtime)
    chat.say("/mulai")
    chat.say(button="agree")
    chat.say(button="file")
    for answer in ["Siti", "siti@contoh.go.id", "081234567890", "1", "Lampu jalan mati seminggu", "Lanjut",
                   "1"][:steps]:
        chat.say(answer)
    assert chat.say("/batal") == ["Pengisian dibatalkan. Tidak ada yang dikirim.", "Silakan pilih menu:"]
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_a_command_mid_form_reprompts(runtime):
    chat = Chat(runtime)
    chat.say("/mulai")
    chat.say(button="agree")
    chat.say(button="file")
    assert chat.say("/aduan") == ["Anda sedang mengisi pengaduan. Lanjutkan isian di bawah ini, atau ketik /batal "
                                  "untuk membatalkan.", "Siapa nama Anda?"]
    replies = chat.say("/status")
    assert replies == ["Anda belum memiliki pengaduan. Pilih Ajukan pengaduan untuk memulai.", "Siapa nama Anda?"]
    assert chat.say("/verifikasi ADU-2025-000001") == ["Anda sedang mengisi pengaduan. Lanjutkan isian di bawah "
                                                       "ini, atau ketik /batal untuk membatalkan.", "Siapa nama Anda?"]


def test_officer_commands_are_refused_to_citizens(runtime):
    chat = Chat(runtime)
    chat.say("/mulai")
    chat.say(button="agree")
    assert chat.say("/verifikasi ADU-2025-000001") == ["Perintah ini hanya untuk petugas."]
    assert chat.say("/terbang") == ["Perintah /terbang tidak dikenal. Ketik /bantuan untuk daftar perintah."]


def test_a_restart_mid_form_resumes_where_the_citizen_was(make_runtime):
    first = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0))
    chat = Chat(first)
    chat.say("/mulai")
    chat.say(button="agree")
    chat.say(button="file")
    chat.say("Siti")
    first.close()
    second = make_runtime(clock=lambda: wib(2025, 4, 8, 10, 0))  # a new process: new in-process Redis
    chat.runtime = second
    assert chat.say(button="skip")[0].startswith("Nomor telepon Anda?")


def test_a_half_filled_complaint_expires(make_runtime):
    now = [wib(2025, 4, 8, 9, 0)]
    runtime = make_runtime(clock=lambda: now[0])
    chat = Chat(runtime)
    chat.say("/mulai")
    chat.say(button="agree")
    chat.say(button="file")
    now[0] += timedelta(hours=25)
    replies = chat.say("Siti")
    assert replies[0].startswith("Pengisian pengaduan Anda sebelumnya sudah kedaluwarsa (lebih dari 24 jam")
    assert replies[-1] == "Silakan pilih menu:"


def test_status_shows_only_my_cases_and_only_the_public_history(runtime):
    mine, other = Chat(runtime, chat_id="w-mine"), Chat(runtime, chat_id="w-other")
    ticket = mine.file_complaint()
    theirs = other.file_complaint()
    with transaction(runtime.sessions) as s:
        runtime.cases.fire(s, ticket, "request_info", ADMIN, note="Mohon kirim foto lampunya",
                           now=wib(2025, 4, 8, 10, 0))
        case = runtime.cases.get(s, ticket)
        s.add(CaseEvent(case_id=case.id, at=wib(2025, 4, 8, 10, 5), actor_type="officer", actor_id=1,
                        actor_role="admin", action="note", note="RAHASIA: pelapor kerabat pejabat", public=False))
    listing = mine.say("/status")[0]
    assert ticket in listing and theirs not in listing and "Menunggu Kelengkapan" in listing
    detail = mine.say(f"/status {ticket.lower()}")[0]
    assert "Menunggu Kelengkapan" in detail and "Mohon kirim foto lampunya" in detail
    assert "Menunggu Anda, paling lambat" in detail
    assert "RAHASIA" not in detail and "kerabat" not in detail
    assert mine.say(f"/status {theirs}") == [f"Pengaduan {theirs} tidak ditemukan."]
    assert mine.say("/status ADU-2025-999999") == ["Pengaduan ADU-2025-999999 tidak ditemukan."]


def test_while_a_case_waits_on_the_citizen_their_next_message_goes_to_it(runtime):
    chat = Chat(runtime)
    ticket = chat.file_complaint()
    with transaction(runtime.sessions) as s:
        runtime.cases.fire(s, ticket, "request_info", ADMIN, note="Di mana lokasinya?", now=wib(2025, 4, 8, 10, 0))
    assert chat.say(attachments=[Attachment_("sticker", "s")])[0] \
        == "Maaf, pesan Anda belum kami pahami."  # a sticker is not information
    assert chat.say("Di Jl. Merdeka no. 5", attachments=[photo("AgAD-2")])[0] == \
        f"Terima kasih, kelengkapan untuk {ticket} sudah kami terima. Pengaduan Anda diproses kembali."
    # what follows goes to the same case until they press Done
    assert chat.say(attachments=[photo("AgAD-3")])[0] == f"Informasi ditambahkan ke {ticket}."
    assert chat.say(button="done")[0].startswith("Terima kasih. Informasi tambahan sudah tercatat")
    with runtime.sessions() as s:
        case = runtime.cases.get(s, ticket, full=True)
        assert case.state == "received"
        assert [e.action for e in case.events][-3:] == ["citizen_info", "provide_info", "citizen_info"]
        assert case.events[-3].note == "Di Jl. Merdeka no. 5"
        assert s.scalar(select(func.count()).select_from(Attachment)) == 2


def test_tambah_adds_to_any_open_case_of_mine(runtime):
    chat = Chat(runtime)
    ticket = chat.file_complaint()
    assert chat.say(f"/tambah {ticket}")[0].startswith(f"Silakan kirim informasi atau lampiran tambahan untuk {ticket}")
    assert chat.say("Sudah dua minggu sekarang.")[0] == f"Informasi ditambahkan ke {ticket}."
    assert chat.say(button="done")[0] == f"Terima kasih. Informasi tambahan sudah tercatat pada {ticket}."
    stranger = Chat(runtime, chat_id="w-stranger")
    stranger.say("/mulai")
    stranger.say(button="agree")
    assert stranger.say(f"/tambah {ticket}") == [f"Pengaduan {ticket} tidak ditemukan."]


def test_english_from_the_language_hint_and_switching(runtime):
    chat = Chat(runtime, language_hint="en-GB")
    assert chat.say("/start")[0] == "Welcome to the complaint service of BPS Kota Contoh."
    chat.say(button="agree")
    replies = chat.say("/bahasa")
    assert replies == ["Bahasa diatur ke Bahasa Indonesia.", "Silakan pilih menu:"]


def test_office_information_has_hours_contacts_standards_and_the_pledge(make_runtime):
    runtime = make_runtime(office={"name": "BPS Kota Sorong", "contacts": "HP 0812 3300 9171",
                                   "service_pledge": "Kami sanggup melayani sesuai standar."},
                           workflow={"preset": "pst-sorong"})
    chat = Chat(runtime)
    chat.say("/mulai")
    chat.say(button="agree")
    info = chat.say(button="info")[0]
    assert "Jam layanan (WIT): Senin–Kamis 07.30–16.00, Jumat 07.30–16.30" in info
    assert "HP 0812 3300 9171" in info and "Maklumat Pelayanan:\nKami sanggup" in info
    assert "Petugas memverifikasi pengaduan: 3 hari kerja" in info
    assert "maksimal 30 (tiga puluh) hari kerja" in info  # the PST service times, as the standard writes them


def test_a_repeated_delivery_has_one_effect(runtime):
    chat = Chat(runtime)
    chat.say("/mulai", message_id="same")
    chat.say("/mulai", message_id="same")
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 1
        assert s.scalar(select(func.count()).select_from(Outbox)) == 2  # greeting + notice, once


def test_without_redis_a_message_is_still_stored_and_answered(make_runtime):
    runtime = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), redis={"url": "redis://127.0.0.1:1/0"})
    assert Chat(runtime).say("/mulai")[0].startswith("Selamat datang")
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_a_long_reply_becomes_one_outbox_row_per_part(runtime):
    from flows.messages import Button, Reply, rows
    from storage.outbox import enqueue

    with transaction(runtime.sessions) as s:
        enqueue(s, "whatsapp", "+62811", Reply("kata " * 700, rows(Button("OK", "ok"))))
    with runtime.sessions() as s:
        parts = s.scalars(select(Outbox).order_by(Outbox.id)).all()
    assert len(parts) == 3 and all(len(p.payload["text"]) <= 1300 for p in parts)
    assert [("buttons" in p.payload) for p in parts] == [False, False, True]
    assert " ".join(p.payload["text"] for p in parts).split() == ("kata " * 700).split()


def test_internal_notes_of_a_transition_stay_internal(make_runtime):
    runtime = make_runtime(clock=lambda: wib(2025, 5, 8, 9, 0), workflow={"preset": "bps-bengkulu"})
    chat = Chat(runtime)
    ticket = chat.file_complaint()
    officer = Actor(ActorType.OFFICER, "petugas_layanan", 3)
    with transaction(runtime.sessions) as s:
        runtime.cases.fire(s, ticket, "receive", officer)
        runtime.cases.fire(s, ticket, "to_leadership", officer, note="Pelapor kerabat kepala dinas")
    detail = chat.say(f"/status {ticket}")[0]
    assert "Tindak Lanjut Pimpinan" in detail and "kerabat" not in detail


def test_a_nul_character_in_a_citizens_text_is_dropped_not_a_failing_webhook(runtime):
    """PostgreSQL text cannot hold NUL: kept, every retry of the webhook would fail."""
    ticket = Chat(runtime).file_complaint(text="Lampu jalan\x00 di depan kantor mati sejak seminggu.",
                                          name="Siti\x00 Aminah")
    with runtime.sessions() as s:
        case = s.scalar(select(Case).where(Case.ticket == ticket))
        assert case.text == "Lampu jalan di depan kantor mati sejak seminggu."
        assert s.scalar(select(Citizen.name)) == "Siti Aminah"
