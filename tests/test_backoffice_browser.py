"""The back office in Chromium: an officer signs in through the link their chat received,
finds a case by search, opens it and sees the citizen's photo; at phone and desktop
width; then presses an action's button on a case page and sees its new state. With ADUAN_TEST_SCREENSHOTS=1 the queue, the case and the dashboard are saved to
docs/ (the README's pictures)."""
from __future__ import annotations

import io
import os
import re
import socket
import threading
from pathlib import Path

import pytest

from bot.app import create_app
from tests.chat import Chat
from tests.conftest import wib
from tests.test_backoffice import case_with_photo, dispose, officer
from tests.test_webchat import browser  # noqa: F401 (fixture)

DOCS = Path(__file__).resolve().parent.parent / "docs"
SIZES = {"phone": (390, 844, 3, True), "desktop": (1280, 900, 1, False)}


def _photo() -> bytes:
    """A picture worth looking at (a queue of people at a counter, roughly)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (480, 320), (226, 232, 238))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 220, 480, 320), fill=(180, 170, 150))
    d.rectangle((360, 90, 470, 230), fill=(31, 111, 139))
    for n in range(6):
        x = 40 + n * 52
        d.ellipse((x, 110, x + 30, 140), fill=(120, 80, 60))
        d.rectangle((x - 4, 140, x + 34, 225), fill=[(192, 57, 43), (58, 157, 93), (224, 165, 0)][n % 3])
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def served(make_runtime, tmp_path):
    """The app under waitress at a port chosen first, so that server.public_url (the
    chat's sign-in links) names it."""
    from waitress.server import create_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    clock = [wib(2025, 4, 8, 9, 0)]
    rt = make_runtime(clock=lambda: clock[0], server={"public_url": url}, office={"name": "BPS Kota Contoh"},
                      intake={"attachments_dir": str(tmp_path / "files")})
    with rt.transaction() as s:
        from storage.units import add_unit

        add_unit(s, "KEU", "Bagian Keuangan")
        add_unit(s, "PST", "Pelayanan Statistik Terpadu")
    server = create_server(create_app(runtime=rt), host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield rt, url, clock
    server.close()


def _cases(rt, clock):
    """A few weeks of an office: cases forwarded, answered, one rejected, some overdue."""
    app, admin = create_app(runtime=rt), officer(rt)
    unit = officer(rt, "unit_officer", "PST", chat_id="t-pst")
    photo = case_with_photo(rt, app, "w-photo", _photo(), "Antrian di loket PST sangat panjang dan nomor antrean habis.")
    dispose(admin, photo, "PST")
    for n, text in enumerate(("Data inflasi bulan lalu belum terbit di situs.", "Petugas konsultasi tidak hadir pada jam layanan.",
                              "Tabel publikasi daerah dalam angka salah satu kolomnya kosong.",
                              "Permintaan data mikro belum dijawab sejak dua minggu.",
                              "Ruang tunggu PST panas, pendingin udara mati.")):
        clock[0] = wib(2025, 4, (9, 15, 21, 24, 25)[n], 10, 0)  # over three weeks
        ticket = Chat(rt, chat_id=f"w-c{n}").file_complaint(text=text)
        if n == 0:
            dispose(admin, ticket, "PST")
            unit.say(f"/proses {ticket}")
            unit.say(f"/jawab {ticket} Data sudah terbit di tabel dinamis.")
        elif n == 1:
            admin.say(f"/tolak {ticket} Bukan kewenangan kantor ini.")
    clock[0] = wib(2025, 4, 28, 10, 0)  # later: some clocks have run out
    return admin, photo


def _size(browser, name):
    width, height, scale, mobile = SIZES[name]
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile})


def _shot(browser, name):
    """The whole page, when screenshots are asked for."""
    if os.environ.get("ADUAN_TEST_SCREENSHOTS") != "1":
        return
    width, _, scale, mobile = SIZES[name.rsplit("-", 1)[1]]
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": min(scale, 2), "mobile": mobile})
    browser.save_screenshot(str(DOCS / f"backoffice-{name}.png"))
    _size(browser, name.rsplit("-", 1)[1])


def test_sign_in_by_the_chat_link_find_the_case_and_see_its_photo(browser, served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    rt, url, clock = served
    admin, ticket = _cases(rt, clock)
    from selenium.common.exceptions import StaleElementReferenceException

    wait = WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))  # pages change under it
    [reply] = admin.say("/masuk")
    link = re.search(re.escape(url) + r"/kantor/masuk/\S+", reply)[0]
    for size in ("phone", "desktop"):
        _size(browser, size)
        browser.delete_all_cookies()
        browser.get(link if size == "phone" else re.search(re.escape(url) + r"/\S+", admin.say("/login")[0])[0])
        browser.find_element(By.ID, "continue").click()
        wait.until(lambda d: d.title.startswith("Antrian saya"))
        assert "ADU-2025-000004" in browser.page_source  # the one waiting on the admin
        _shot(browser, f"queue-{size}")
        browser.get(f"{url}/kantor/cari")
        browser.find_element(By.NAME, "teks").send_keys("loket PST")
        browser.find_element(By.ID, "find").click()
        wait.until(lambda d: "1 kasus ditemukan" in d.page_source)
        browser.find_element(By.LINK_TEXT, ticket).click()
        wait.until(lambda d: d.title.startswith(ticket))
        img = browser.find_element(By.CSS_SELECTOR, "figure.file img")
        wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) == 480)
        assert img.size["width"] > 100  # shown, not a broken icon
        _shot(browser, f"case-{size}")
        browser.get(f"{url}/kantor/dasbor")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg.chart"))
        _shot(browser, f"dashboard-{size}")
    # acting from the case page: press the button, see the new state (and the chat knows it)
    waiting = "ADU-2025-000004"
    browser.get(f"{url}/kantor/kasus/{waiting}")
    version = browser.find_element(By.CSS_SELECTOR, "form[data-trigger=verify] input[name=version]").get_attribute("value")
    browser.find_element(By.ID, "act-verify").click()
    wait.until(lambda d: "Status sekarang: Terverifikasi" in d.find_element(By.CSS_SELECTOR, "p.flash.ok").text)
    assert browser.find_element(By.CSS_SELECTOR, ".case-head .badge.state").text == "Terverifikasi"
    assert browser.find_elements(By.ID, "act-dispose") and not browser.find_elements(By.ID, "act-verify")
    assert int(browser.find_element(By.CSS_SELECTOR, "form[data-trigger=dispose] input[name=version]")
               .get_attribute("value")) > int(version)
    assert "Terverifikasi" in admin.say(f"/kasus {waiting}")[0]
    _shot(browser, "acted-desktop")
    # signing out ends it: the back button shows nothing of the case
    browser.find_element(By.XPATH, "//button[normalize-space()='Keluar']").click()
    wait.until(lambda d: "Masuk ke Kantor Aduan" in d.page_source)
    browser.get(f"{url}/kantor/kasus/{ticket}")
    assert "Masuk ke Kantor Aduan" in browser.page_source and "loket PST" not in browser.page_source
