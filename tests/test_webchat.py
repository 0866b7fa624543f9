"""The web chat: its JSON API, and a complaint filed through the page in headless Chromium."""
import os
import shutil
import socket
import threading
import uuid

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from storage.models import Case, InboundMessage
from tests.conftest import wib
from tests.page import Page


@pytest.fixture
def runtime(make_runtime):
    return make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), office={"name": "BPS Kota Contoh"})


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


def say(client, text=None, button=None, msg_id=None):
    body = {"id": msg_id or uuid.uuid4().hex}
    if text is not None:
        body["text"] = text
    if button is not None:
        body["button"] = button
    return client.post("/webchat/api/messages", json=body)


def test_the_page_is_served_without_anything_from_outside(client):
    html = client.get("/").get_data(as_text=True)
    assert "<title>BPS Kota Contoh</title>" in html and 'src="/webchat/chat.js"' in html
    assert "http" not in html.replace('name="viewport"', "")  # no CDN, no external asset
    assert client.get("/webchat/chat.js").status_code == 200
    assert client.get("/webchat/chat.css").content_type.startswith("text/css")
    assert client.get("/webchat/../config.toml").status_code == 404


def test_messages_in_and_replies_out(client):
    assert say(client, "/mulai").status_code == 200
    messages = client.get("/webchat/api/messages?after=0").get_json()["messages"]
    assert messages[0]["text"] == "Selamat datang di layanan pengaduan BPS Kota Contoh."
    assert [b["payload"] for row in messages[1]["buttons"] for b in row] == ["agree", "disagree", "language"]
    after = messages[-1]["id"]
    say(client, button="agree")
    assert client.get(f"/webchat/api/messages?after={after}").get_json()["messages"][0]["text"] == "Silakan pilih menu:"


def test_visitors_only_see_their_own_messages(runtime):
    app = create_app(runtime=runtime)
    one, two = app.test_client(), app.test_client()
    say(one, "/mulai")
    assert two.get("/webchat/api/messages?after=0").get_json()["messages"] == []


def test_a_retried_post_counts_once(client, runtime):
    say(client, "/mulai", msg_id="client-msg-0001")
    say(client, "/mulai", msg_id="client-msg-0001")
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 1


@pytest.mark.parametrize("body, status", [
    ({"text": "x"}, 400), ({"id": "short", "text": "x"}, 400), ({"id": "x" * 80, "text": "x"}, 400),
    ({"id": "abcdefgh1", "text": 5}, 400), ({"id": "abcdefgh2", "text": "x" * 10001}, 413),
])
def test_bad_posts(client, runtime, body, status):
    assert client.post("/webchat/api/messages", json=body).status_code == status
    assert client.post("/webchat/api/messages", data="not json").status_code == 400
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 0


# -- a real browser ------------------------------------------------------------------------------
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
REQUIRED = os.environ.get("ADUAN_TEST_BROWSER") == "1"


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        if REQUIRED:
            pytest.fail("ADUAN_TEST_BROWSER=1 but chromium/chromedriver are not installed")
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.add_experimental_option("prefs", {"intl.accept_languages": "id-ID,id"})  # an Indonesian phone
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=400,800", "--lang=id-ID"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def served(runtime):
    from waitress.server import create_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = create_server(create_app(runtime=runtime), host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/"
    server.close()
    # and wait for the requests in flight (a page's last poll or post): none may write into
    # the next test's database after this test's is emptied
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)


def test_a_complaint_filed_through_the_page_in_chromium(browser, served, runtime, tmp_path):

    page = Page(browser)
    wait, click, type_, bot_says = page.wait, page.click, page.type, page.says

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
    bot_says("Tuliskan pengaduan Anda")
    type_("Antrian di loket pelayanan data sangat panjang dan tidak teratur.")
    click("Lanjut")
    click("Rahasia")
    bot_says("Periksa kembali pengaduan Anda")
    click("Kirim pengaduan")
    bot_says("nomor tiket ADU-2025-000001")
    browser.save_screenshot(str(tmp_path / "webchat.png"))  # kept for a person to look at
    with runtime.sessions() as s:
        case = s.scalar(select(Case))
        assert case.ticket == "ADU-2025-000001" and case.channel == "webchat" and case.privacy == "rahasia"
        assert case.text == "Antrian di loket pelayanan data sangat panjang dan tidak teratur."
