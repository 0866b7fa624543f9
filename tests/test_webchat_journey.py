"""A complaint on the web chat page in headless Chromium, from the first visit to closed:
the unit's answer appears on the page, the citizen clicks "Belum selesai" and says why,
the unit answers again, the citizen clicks "Sudah selesai", rates 4 and comments.
Officers work from their own chats (tests.chat.enrol)."""
import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.models import Case, Rating
from storage.units import add_unit
from tests.chat import enrol
from tests.conftest import wib
from tests.page import Page
from tests.test_webchat import browser, served  # noqa: F401  (fixtures)


@pytest.fixture
def runtime(make_runtime):
    rt = make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), office={"name": "BPS Kota Contoh"})
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Bagian Keuangan")
    return rt


def test_a_web_chat_complaint_from_first_visit_to_closed(browser, served, runtime, tmp_path):  # noqa: F811

    page = Page(browser)
    wait, click, type_, bot_says = page.wait, page.click, page.type, page.says

    admin = enrol(runtime, "admin", channel="telegram", chat_id="4001")
    unit = enrol(runtime, "unit_officer", "KEU", channel="telegram", chat_id="4002")
    browser.get(served)
    bot_says("UU 27/2022")
    click("Setuju")
    click("Ajukan pengaduan")
    bot_says("Siapa nama Anda?")
    type_("Siti Aminah")
    click("Lewati")
    bot_says("Nomor telepon Anda?")
    type_("081234567890")
    click("Pengaduan")
    type_("Lampu jalan di depan kantor mati sejak seminggu.")
    click("Lanjut")
    click("Biasa")
    click("Kirim pengaduan")
    bot_says("nomor tiket ADU-2025-000001")
    ticket = "ADU-2025-000001"

    for who, command in ((admin, f"/disposisi {ticket} KEU"), (unit, f"/proses {ticket}"),
                         (unit, f"/jawab {ticket} Lampu sudah kami ganti.")):
        assert who.say(command)
    bot_says("Lampu sudah kami ganti.")
    bot_says("Apakah masalah Anda sudah selesai?")
    click("Belum selesai")
    bot_says("Mohon jelaskan apa yang belum selesai.")
    type_("Lampunya mati lagi sejak kemarin.")
    bot_says(f"Pengaduan {ticket} kami buka kembali")

    assert unit.say(f"/jawab {ticket} Kabelnya sudah kami perbaiki.")
    bot_says("Kabelnya sudah kami perbaiki.")
    click("Sudah selesai")
    bot_says("Berapa nilai Anda")
    click("4")
    bot_says("Ada komentar")
    type_("Terima kasih, cepat ditangani.")
    bot_says(f"Pengaduan {ticket} kami tutup sebagai selesai")
    browser.save_screenshot(str(tmp_path / "webchat-closed.png"))
    with runtime.sessions() as s:
        assert s.scalar(select(Case.state)) == "closed"
        assert [(r.solved, r.score) for r in s.scalars(select(Rating).order_by(Rating.id))] == [
            (False, None), (True, 4)]
