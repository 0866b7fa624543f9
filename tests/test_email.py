"""Follow-ups by email, through a real SMTP server (aiosmtpd on 127.0.0.1): a web chat
citizen who closed the tab still hears the answer; the relay's refusals are retried or
given up the way SMTP means them; nothing of the citizen reaches a log line."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.outbound import Dispatcher
from storage.models import Outbox
from tests.chat import Chat
from tests.conftest import wib
from tests.fakes.smtp import FakeSMTP, make_certificate
from tests.test_officer_commands import enrol

# A login over plain SMTP is the test relay's choice (127.0.0.1); the TLS test logs in over TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
ADDRESS = "siti@contoh.go.id"
FROM = "pengaduan@bps-contoh.go.id"
LOGIN = ("aduan", "rahasia-smtp")


class Clock:
    def __init__(self):
        self.now = wib(2025, 4, 8, 9, 0)

    def __call__(self):
        return self.now


@pytest.fixture
def smtp():
    with FakeSMTP(login=LOGIN) as server:
        yield server


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def runtime(make_runtime, smtp, clock):
    from storage.db import transaction
    from storage.units import add_unit

    rt = make_runtime(clock=clock, office={"name": "BPS Kota Contoh", "contacts": "0711-123456"},
                      email={"host": "127.0.0.1", "port": smtp.port, "security": "none",
                             "username": LOGIN[0], "password": LOGIN[1], "from_address": FROM,
                             "reply_to": "layanan@bps-contoh.go.id", "timeout": 5,
                             "web_url": "https://aduan.bps-contoh.go.id/"})
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Bagian Keuangan")
    return rt


def send_all(runtime, clock):
    return Dispatcher(runtime, runtime.senders, clock=clock, sleep=lambda s: None).run_once()


def email_rows(runtime):
    with runtime.sessions() as s:
        return s.scalars(select(Outbox).where(Outbox.channel == "email").order_by(Outbox.id)).all()


def code_of(replies) -> str:
    line = next(r for r in replies if r.startswith("Kode akses pengaduan ini: "))
    return line.split(": ")[1].split("\n")[0]


def file_with_email(runtime, chat_id="w-siti", channel="webchat"):
    chat = Chat(runtime, channel=channel, chat_id=chat_id)
    ticket = chat.file_complaint()
    return chat, ticket, code_of([p["text"] for p in chat.last])


def parts(message):
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return plain, html


def test_a_web_chat_citizen_hears_the_answer_by_email(runtime, smtp, clock, caplog):
    caplog.set_level("DEBUG")
    admin, unit = enrol(runtime, "admin"), enrol(runtime, "unit_officer", "KEU")
    citizen, ticket, code = file_with_email(runtime)
    assert any(t == f"Kabar perkembangan pengaduan ini juga kami kirim ke {ADDRESS}, termasuk kode akses di atas."
               for t in [p["text"] for p in citizen.last])
    admin.say(f"/verifikasi {ticket}")
    admin.say(f"/disposisi {ticket} KEU")
    unit.say(f"/proses {ticket}")
    unit.say(f"/jawab {ticket} Lampu sudah diganti pada 10 April.")
    send_all(runtime, clock)

    rows = email_rows(runtime)
    assert rows and {r.chat_id for r in rows} == {ADDRESS}  # never an officer or group notice
    assert all(r.status == "sent" for r in rows)
    assert len(smtp.received) == len(rows) and smtp.logins == [LOGIN[0]] * len(rows)
    for sender, recipients, message in smtp.received:
        assert (sender, recipients, message["To"]) == (FROM, [ADDRESS], ADDRESS)
        assert message["Subject"] == f"Pengaduan {ticket} — BPS Kota Contoh"
        assert message["Reply-To"] == "layanan@bps-contoh.go.id" and message["Auto-Submitted"] == "auto-generated"

    first_plain, _ = parts(smtp.received[0][2])
    assert f"nomor tiket {ticket}" in first_plain and f"/status {ticket} {code}" in first_plain
    answer = next(m for _, _, m in smtp.received if "Lampu sudah diganti" in parts(m)[0])
    plain, html = parts(answer)
    assert "Tanggapan: Lampu sudah diganti pada 10 April." in plain
    assert "Apakah masalah Anda sudah selesai?" in plain
    # the buttons, as text: where to answer and the choices
    assert "buka web chat di peramban (browser) yang sama tempat Anda mengajukan pengaduan" in plain
    assert "• Sudah selesai" in plain and "• Belum selesai" in plain
    assert f"/status {ticket} KODE_AKSES melalui web chat (https://aduan.bps-contoh.go.id/)" in plain
    assert "Tanggapan: Lampu sudah diganti pada 10 April.<br>" in html and "<p>" in html
    assert '(<a href="https://aduan.bps-contoh.go.id/">https://aduan.bps-contoh.go.id/</a>)' in html
    # no address, no text of the citizen's or the officer's in any log line
    for record in caplog.records:
        if record.name.split(".")[0] in ("bot", "handlers", "storage", "flows"):
            text = record.getMessage()
            assert ADDRESS not in text and "Lampu" not in text and code not in text, text


def test_a_question_by_email_says_where_to_answer(runtime, smtp, clock):
    admin = enrol(runtime, "admin")
    _, ticket, _ = file_with_email(runtime)
    admin.say(f"/minta {ticket} Mohon kirim foto lokasinya.")
    send_all(runtime, clock)
    plain, _ = parts(smtp.received[-1][2])
    assert "Pertanyaan petugas: Mohon kirim foto lokasinya." in plain
    assert "Balas di sini" not in plain  # an email cannot be answered
    assert f"kirim jawaban atau lampiran Anda di sana (atau ketik /tambah {ticket})" in plain


def test_a_telegram_citizen_with_an_email_gets_both(runtime, smtp, clock):
    admin = enrol(runtime, "admin")
    citizen, ticket, _ = file_with_email(runtime, chat_id="4242", channel="telegram")
    admin.say(f"/tolak {ticket} Bukan kewenangan kami")
    assert any("Alasan: Bukan kewenangan kami" in p["text"] for p in citizen.pop())
    send_all(runtime, clock)
    plain, _ = parts(smtp.received[-1][2])
    assert "Alasan: Bukan kewenangan kami" in plain


def test_a_citizen_who_skips_the_email_gets_none(runtime, smtp, clock):
    chat = Chat(runtime, chat_id="w-noemail")
    chat.say("/mulai")
    chat.say(button="agree")
    chat.say(button="file")
    assert chat.say("Budi")[0] == ("Alamat email Anda, untuk menerima kabar perkembangan pengaduan? "
                                   "Tekan Lewati bila tidak ada.")
    chat.say(button="skip")
    chat.say(button="skip")
    chat.say(button="pengaduan")
    chat.say("Jalan berlubang di depan sekolah.")
    chat.say(button="next")
    chat.say(button="biasa")
    replies = chat.say(button="submit")
    assert not any("kami kirim ke" in r for r in replies)
    assert email_rows(runtime) == []


def test_without_email_settings_nothing_promises_or_sends_email(make_runtime):
    runtime = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0))
    assert "email" not in runtime.senders
    chat = Chat(runtime, chat_id="w-plain")
    chat.say("/mulai")
    chat.say(button="agree")
    chat.say(button="file")
    assert chat.say("Siti")[0] == "Alamat email Anda? Tekan Lewati bila tidak ada."
    other = Chat(runtime, chat_id="w-plain-2")
    other.file_complaint()
    assert not any("kami kirim ke" in p["text"] for p in other.history)
    assert email_rows(runtime) == []


def test_451_is_retried_and_delivered_once(runtime, smtp, clock):
    smtp.rcpt_script = ["451 4.3.0 Coba lagi nanti"]
    file_with_email(runtime)
    send_all(runtime, clock)
    [row] = email_rows(runtime)
    assert (row.status, row.attempts, row.error) == ("pending", 1, "smtp 451")
    assert smtp.received == []
    send_all(runtime, clock)  # not yet due: the relay asked for patience
    assert smtp.received == []
    clock.now += timedelta(minutes=2)
    send_all(runtime, clock)
    send_all(runtime, clock)
    [row] = email_rows(runtime)
    assert (row.status, row.attempts) == ("sent", 2) and row.provider_message_id.endswith("@bps-contoh.go.id>")
    assert len(smtp.received) == 1


def test_550_fails_without_quoting_the_address(runtime, smtp, clock):
    smtp.rcpt_script = [f"550 5.1.1 <{ADDRESS}>: Recipient address rejected"]
    file_with_email(runtime)
    send_all(runtime, clock)
    [row] = email_rows(runtime)
    assert (row.status, row.error) == ("failed", "smtp 550: refused")
    clock.now += timedelta(hours=1)
    send_all(runtime, clock)
    assert smtp.received == []


def test_a_relay_that_is_down_is_retried(runtime, smtp, clock):
    smtp.stop()
    file_with_email(runtime)
    send_all(runtime, clock)
    [row] = email_rows(runtime)
    assert row.status == "pending" and row.error == "smtp connection: ConnectionRefusedError"
    smtp.start()
    clock.now += timedelta(minutes=2)
    send_all(runtime, clock)
    assert email_rows(runtime)[0].status == "sent" and len(smtp.received) == 1


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_to_the_relay(make_runtime, tmp_path, security):
    cert, key = make_certificate(tmp_path)
    with FakeSMTP(login=LOGIN, tls=(cert, key), implicit_tls=security == "ssl") as server:
        runtime = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0),
                               email={"host": "localhost", "port": server.port, "security": security,
                                      "username": LOGIN[0], "password": LOGIN[1], "from_address": FROM,
                                      "ca_file": str(cert)})
        file_with_email(runtime)
        Dispatcher(runtime, runtime.senders, sleep=lambda s: None).run_once()
        assert (email_rows(runtime)[0].status, email_rows(runtime)[0].error) == ("sent", None)
        assert len(server.received) == 1 and server.logins == [LOGIN[0]]


def test_a_walk_in_citizen_with_only_an_email_is_told_whom_to_answer(runtime, smtp, clock):
    admin = enrol(runtime, "admin")
    admin.say("/catat")
    admin.say("1")  # front desk
    for answer in ("Lewati", "budi@contoh.go.id", "Lewati", "pengaduan",
                   "Loket tutup sebelum jam layanan berakhir.", "Lanjut", "Biasa"):
        admin.say(answer)
    ticket = admin.say("Kirim pengaduan")[0].split("nomor ")[1].split(".")[0]
    admin.say(f"/minta {ticket} Jam berapa loket tutup?")
    send_all(runtime, clock)
    [(_, recipients, message)] = smtp.received
    plain, _ = parts(message)
    assert recipients == ["budi@contoh.go.id"] and "Pertanyaan petugas: Jam berapa loket tutup?" in plain
    # no chat to answer in, and no access code to check with: it says neither
    assert "Sampaikan jawaban Anda kepada kantor: 0711-123456." in plain
    assert "/status" not in plain and "web chat" not in plain


@pytest.mark.parametrize("email, problem", [
    ({"host": "smtp.contoh.go.id"}, "from_address is not"),
    ({"host": "smtp.contoh.go.id", "from_address": "bukan-alamat"}, "email.from_address"),
    ({"host": "smtp.contoh.go.id", "from_address": FROM, "username": "x"}, "both email.username and"),
    ({"host": "smtp.contoh.go.id", "from_address": FROM, "security": "tls"}, "email.security"),
])
def test_bad_email_settings_stop_start_up(tmp_path, email, problem):
    from bot.config import ConfigError, load_settings

    lines = ["[email]"] + [f'{k} = "{v}"' for k, v in email.items()]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        load_settings(str(path))


@pytest.mark.parametrize("address, smtputf8, status", [
    ("sîti@contoh.go.id", True, "sent"),  # an internationalized address, a relay that takes it
    ("sîti@contoh.go.id", False, "failed"),  # ... and one that cannot: retrying will not help
    ("siti@contoh.go.id\r\nBcc: semua@contoh.go.id", True, "failed"),  # no header injection
])
def test_addresses_the_relay_can_or_cannot_take(address, smtputf8, status):
    from bot.channels.base import Outgoing
    from bot.channels.email import EmailSender

    with FakeSMTP(smtputf8=smtputf8) as server:
        sender = EmailSender(host="127.0.0.1", port=server.port, security="none", from_address=FROM,
                             from_name="BPS Kota Contoh")
        result = sender.send(Outgoing(1, address, {"text": "Status pengaduan ADU-2025-000001: Selesai.",
                                                   "meta": {"ticket": "ADU-2025-000001", "lang": "id"}}))
        assert result.status == status, result.error
        assert len(server.received) == (status == "sent")
        assert "siti" not in (result.error or "") and "sîti" not in (result.error or "")
