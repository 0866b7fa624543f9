"""Officers in chat: enrolment, commands, cards, refusals, races, privacy."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.models import Case, CaseEvent, Outbox
from storage.officers import invite, revoke
from storage.units import add_unit
from tests.chat import Chat, enrol as chat_enrol
from tests.conftest import wib

NOW = wib(2025, 4, 8, 9, 0)


@pytest.fixture
def runtime(make_runtime):
    rt = make_runtime(clock=lambda: NOW, telegram={"officer_group_chat_id": -100777})
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Bagian Keuangan")
        add_unit(s, "PU", "Pekerjaan Umum")
    return rt


def enrol(runtime, role, unit=None, chat_id=None, hint=None):
    return chat_enrol(runtime, role, unit, chat_id=chat_id, hint=hint, now=NOW)


def new_case(runtime, chat_id="w-citizen", privacy="biasa"):
    citizen = Chat(runtime, chat_id=chat_id)
    return citizen, citizen.file_complaint(privacy=privacy)


def outbox_texts(runtime, chat_id):
    with runtime.sessions() as s:
        return [r.payload["text"] for r in s.scalars(select(Outbox).where(Outbox.chat_id == chat_id)
                                                     .order_by(Outbox.id))]


def test_enrolment_is_single_use_and_help_fits_the_role(runtime):
    with transaction(runtime.sessions) as s:
        _, code = invite(s, runtime.workflow, "admin", now=NOW)
    chat = Chat(runtime, channel="telegram", chat_id="t-admin")
    replies = chat.say(f"/petugas {code}")
    assert replies[0] == "Anda terdaftar sebagai petugas: Admin Instansi."
    assert "/verifikasi (/verify) NOMOR" in replies[1] and "/disposisi (/dispose) NOMOR KODE_UNIT" in replies[1]
    assert "/jawab" not in replies[1]  # answering is the unit's job
    other = Chat(runtime, channel="telegram", chat_id="t-thief")
    assert other.say(f"/petugas {code}")[0].startswith("Kode itu tidak berlaku")
    with transaction(runtime.sessions) as s:
        _, expiring = invite(s, runtime.workflow, "admin", ttl=timedelta(hours=1), now=NOW - timedelta(hours=2))
    assert Chat(runtime, channel="telegram", chat_id="t-late").say(f"/officer {expiring}")[0].startswith("Kode itu tidak berlaku")


def test_a_citizen_or_stranger_is_refused_and_learns_nothing(runtime):
    citizen, ticket = new_case(runtime)
    for command in (f"/verifikasi {ticket}", f"/kasus {ticket}", f"/catatan {ticket} x", "/antrian"):
        reply = citizen.say(command)
        assert reply in (["Perintah ini hanya untuk petugas."],
                         [f"Perintah /{command.split()[0][1:]} tidak dikenal. Ketik /bantuan untuk daftar perintah."])
        assert ticket not in " ".join(reply)
    with runtime.sessions() as s:
        assert s.scalar(select(Case)).state == "received"


def test_new_cases_reach_coordinators_and_the_group_without_personal_data(runtime):
    admin = enrol(runtime, "admin")
    citizen, ticket = new_case(runtime)
    [notice] = [t for t in outbox_texts(runtime, admin.chat_id) if "Pengaduan baru" in t]
    assert notice == f"Pengaduan baru {ticket}: Pengaduan (melalui web chat)."  # no categories here: no "kategori -"
    [group] = outbox_texts(runtime, "-100777")
    assert group == notice
    for personal in ("Siti", "+6281234567890", "siti@contoh", "Lampu jalan"):
        assert personal not in group


def test_a_case_card_has_the_actions_of_this_officer_now(runtime):
    admin = enrol(runtime, "admin")
    _, ticket = new_case(runtime)
    admin.pop()
    admin.say(f"/kasus {ticket}")
    [card] = admin.last
    assert card["text"].startswith(f"{ticket} — Belum Terverifikasi")
    assert "Pelapor: Siti Aminah, +6281234567890, siti@contoh.go.id" in card["text"]
    payloads = [b["payload"] for row in card["buttons"] for b in row]
    assert payloads[:5] == [f"a|{tr}|{ticket}|1" for tr in ("verify", "request_info", "refer", "reject", "dispose")]
    assert all(len(p.encode()) <= 64 for p in payloads)  # Telegram's callback data limit


def test_anonim_reporters_are_hidden_from_officers(runtime):
    admin = enrol(runtime, "admin")
    _, ticket = new_case(runtime, privacy="anonim")
    admin.pop()
    admin.say(f"/kasus {ticket}")
    text = admin.last[0]["text"]
    assert "Pelapor: (anonim: disembunyikan)" in text and "Siti" not in text and "+62812" not in text


def test_buttons_numbers_and_typed_commands_take_a_case_through(runtime):
    admin, unit = enrol(runtime, "admin"), enrol(runtime, "unit_officer", "KEU")
    citizen, ticket = new_case(runtime)
    admin.choose(f"k|{ticket}")  # the new-case notice's button opens the card
    assert "Status sekarang: Terverifikasi" in " ".join(admin.choose(f"a|verify|{ticket}|1"))
    assert admin.choose(f"a|dispose|{ticket}|2") == [f"Disposisi {ticket} ke unit mana?"]
    assert f"{ticket}: Disposisi ke unit kerja" in admin.say("1")[0]  # numbered choice: the first unit
    assert any(f"Pengaduan {ticket} didisposisikan ke Bagian Keuangan" in t for t in outbox_texts(runtime, unit.chat_id))
    unit.say(f"/proses {ticket}")
    assert "tulis teksnya" in unit.say(f"/jawab {ticket}")[0]
    unit.say("Lampu sudah diganti pada 10 April.")
    with runtime.sessions() as s:
        assert s.scalar(select(Case)).state == "answered"
    answer = next(p for p in citizen.pop() if "Sudah Ditanggapi" in p["text"])
    assert "Tanggapan: Lampu sudah diganti pada 10 April." in answer["text"]
    assert [b["payload"] for row in answer["buttons"] for b in row] == [f"c|accept|{ticket}", f"c|not_resolved|{ticket}"]
    citizen.choose(f"c|not_resolved|{ticket}")
    citizen.say("Lampunya mati lagi.")
    with runtime.sessions() as s:
        assert s.scalar(select(Case)).state == "in_progress"
    assert f"Pelapor menyatakan {ticket} belum selesai; kasus kembali kepada Anda (Proses).\n" \
        "Alasan pelapor: “Lampunya mati lagi.”" in outbox_texts(runtime, unit.chat_id)


def test_an_officer_of_another_unit_is_refused(runtime):
    admin, other = enrol(runtime, "admin"), enrol(runtime, "unit_officer", "PU")
    _, ticket = new_case(runtime)
    admin.say(f"/disposisi {ticket} KEU")
    assert other.say(f"/proses {ticket}") == [f"Peran atau unit Anda tidak dapat melakukan tindakan ini pada {ticket}."]


def test_an_internal_note_never_reaches_the_citizen(runtime):
    admin = enrol(runtime, "admin")
    citizen, ticket = new_case(runtime)
    assert admin.say(f"/catatan {ticket} Pelapor sering melapor hal serupa") == \
        [f"Catatan internal disimpan pada {ticket}."]
    assert "Pelapor sering melapor hal serupa" in admin.say(f"/kasus {ticket}")[-1]
    assert all("sering melapor" not in t for t in outbox_texts(runtime, citizen.chat_id))
    assert "sering melapor" not in citizen.say(f"/status {ticket}")[0]


def test_replying_to_a_card_is_a_note_and_to_a_question_is_the_answer(runtime):
    admin = enrol(runtime, "admin")
    _, ticket = new_case(runtime)
    admin.say(f"/kasus {ticket}")
    with runtime.sessions() as s:
        card = s.scalars(select(Outbox).where(Outbox.chat_id == admin.chat_id).order_by(Outbox.id.desc())).first()
        card.provider_message_id = "501"
        s.commit()
    from flows.messages import Inbound

    runtime.receive("webchat", "r1", Inbound("webchat", admin.chat_id, "r1", text="Sudah dicek ke lapangan",
                                             reply_to="501"), {})
    with runtime.sessions() as s:
        note = s.scalars(select(CaseEvent).where(CaseEvent.action == "note")).one()
        assert note.note == "Sudah dicek ke lapangan" and not note.public


def test_two_officers_press_the_same_button_one_wins(runtime):
    first, second = enrol(runtime, "admin", chat_id="w-a1"), enrol(runtime, "admin", chat_id="w-a2")
    _, ticket = new_case(runtime)
    first.choose(f"k|{ticket}"), second.choose(f"k|{ticket}")  # both open the card
    first.choose(f"a|verify|{ticket}|1")
    replies = second.choose(f"a|reject|{ticket}|1")
    assert replies[0].startswith(f"{ticket} sekarang berstatus Terverifikasi (tindakan terakhir oleh "
                                 f"petugas #{first.officer_id} (Admin Instansi))")
    with runtime.sessions() as s:
        assert s.scalar(select(Case)).state == "verified"


def test_a_revoked_officer_is_refused(runtime):
    admin = enrol(runtime, "admin")
    _, ticket = new_case(runtime)
    with transaction(runtime.sessions) as s:
        revoke(s, admin.officer_id)
    assert admin.say(f"/verifikasi {ticket}") == ["Akses petugas Anda telah dicabut. Hubungi admin bila ini keliru."]
    with runtime.sessions() as s:
        assert s.scalar(select(Case)).state == "received"


def test_queue_is_mine_soonest_first_and_pages(runtime):
    admin = enrol(runtime, "admin")
    tickets = [new_case(runtime, chat_id=f"w-c{n}")[1] for n in range(10)]
    admin.pop()
    text = admin.say("/antrian")[0]
    assert text.startswith("Antrian Anda: 10 kasus (halaman 1/2)")
    assert text.index(tickets[0]) < text.index(tickets[7]) and tickets[9] not in text
    assert tickets[9] in admin.choose("q|1")[0]
    assert enrol(runtime, "unit_officer", "KEU").say("/antrian") == ["Tidak ada kasus yang menunggu Anda."]


def test_record_a_complaint_from_the_front_desk(make_runtime):
    runtime = make_runtime(clock=lambda: NOW, whatsapp={"account_sid": "AC1", "auth_token": "x",
                                                         "from_number": "+14155238886"})
    admin = enrol(runtime, "admin")
    assert admin.say("/catat")[0] == "Pengaduan ini masuk melalui apa?"
    admin.say("1")  # front desk
    for answer in ("Lewati", "budi@contoh.go.id", "0812 1111 2222", "aspirasi",
                   "Mohon disediakan kursi roda di loket.", "Lanjut", "Biasa"):
        admin.say(answer)
    replies = admin.say("Kirim pengaduan")
    assert replies[0].startswith("Pengaduan dicatat dengan nomor ADU-2025-000001")
    with runtime.sessions() as s:
        case = s.scalar(select(Case))
        assert case.channel == "front_desk" and case.citizen.phone == "+6281211112222"
        assert case.events[0].actor_type == "officer"
    admin.say("/verifikasi ADU-2025-000001")  # the citizen hears on WhatsApp
    assert any(t.startswith("Status pengaduan ADU-2025-000001: Terverifikasi.")  # told of verification
               for t in outbox_texts(runtime, "+6281211112222"))
    admin.say("/tolak ADU-2025-000001 Bukan kewenangan kami")
    assert any("Alasan: Bukan kewenangan kami" in t for t in outbox_texts(runtime, "+6281211112222"))


def test_lapor_escalate_and_statistics(runtime):
    admin, boss = enrol(runtime, "admin"), enrol(runtime, "leadership")
    _, ticket = new_case(runtime)
    assert admin.say(f"/lapor {ticket} LAP-2025-77") == [f"Nomor SP4N-LAPOR! LAP-2025-77 dicatat pada {ticket}."]
    assert admin.say(f"/eskalasi {ticket} Sudah tiga kali dilaporkan") == [f"{ticket} dieskalasi ke pimpinan."]
    assert any(f"Eskalasi {ticket}: Sudah tiga kali dilaporkan" in t for t in outbox_texts(runtime, boss.chat_id))
    assert admin.say("/statistik")[0].startswith("Statistik: 1 kasus, 0 lewat tenggat. Bulan ini: 1 masuk, 0 selesai.")
    with runtime.sessions() as s:
        assert s.scalar(select(Case)).lapor_tracking_id == "LAP-2025-77"


def test_english_officer(runtime):
    chat = enrol(runtime, "admin", hint="en")
    assert chat.say("/queue") == ["No case is waiting on you."]


def test_another_units_case_stays_closed_to_a_unit_officer(runtime):
    admin, other = enrol(runtime, "admin"), enrol(runtime, "unit_officer", "PU")
    _, ticket = new_case(runtime)
    admin.say(f"/disposisi {ticket} KEU")
    for command in (f"/kasus {ticket}", f"/catatan {ticket} x"):
        assert other.say(command) == [f"Peran atau unit Anda tidak dapat melakukan tindakan ini pada {ticket}."]
    assert other.say(button=f"k|{ticket}", forged=True) == [f"Peran atau unit Anda tidak dapat melakukan tindakan ini pada {ticket}."]


def test_a_refused_citizen_attempt_is_logged_without_personal_data(runtime, caplog):
    citizen, ticket = new_case(runtime)
    with caplog.at_level("INFO"):
        citizen.say(f"/verifikasi {ticket}")
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "refused: officer command /verifikasi" in logged
    assert citizen.chat_id not in logged and "Siti" not in logged and ticket not in logged


def test_a_unit_officer_sees_no_case_before_it_reaches_the_unit(runtime):
    other = enrol(runtime, "unit_officer", "PU")
    _, ticket = new_case(runtime)  # not forwarded to any unit yet
    refused = [f"Peran atau unit Anda tidak dapat melakukan tindakan ini pada {ticket}."]
    assert other.say(f"/kasus {ticket}") == refused
    assert other.say(button=f"n|{ticket}", forged=True) == refused  # a crafted note button too
    assert other.say(button=f"a|start|{ticket}|1", forged=True) == refused  # and nothing about its state
    assert other.say(f"/lapor {ticket} X-1") == refused
