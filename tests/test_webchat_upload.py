"""The web chat's upload: the page's file input, the same limits and pipeline as a photo
sent on Telegram, and a phone question without a button that is not there."""
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from storage.models import Attachment, Case, InboundMessage
from tests.conftest import wib
from tests.page import Page
from tests.test_officer_files import PNG
from tests.test_webchat import CHROMEDRIVER, CHROMIUM, browser, served  # noqa: F401 (fixtures)


@pytest.fixture
def runtime(make_runtime, tmp_path):
    return make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), office={"name": "BPS Kota Contoh"},
                        intake={"attachments_dir": str(tmp_path / "files"), "max_attachment_mb": 1})


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


def uploads(tmp_path):
    folder = tmp_path / "files" / "uploads"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def to_attachments_step(client):
    for n, body in enumerate(({"text": "/mulai"}, {"button": "agree"}, {"button": "file"}, {"text": "Siti"},
                              {"button": "skip"}, {"button": "skip"}, {"button": "pengaduan"},
                              {"text": "Antrian di loket pelayanan sangat panjang."})):
        client.post("/webchat/api/messages", json={"id": f"before-{n:04d}", **body})


def upload(client, data, name="bukti.png", kind="image/png", msg_id="upload-0001"):
    return client.post("/webchat/api/files", data={"id": msg_id, "file": (io.BytesIO(data), name, kind)},
                       content_type="multipart/form-data")


def last_texts(client):
    return [m["text"] for m in client.get("/webchat/api/messages?after=0").get_json()["messages"]]


def test_an_upload_becomes_an_attachment_of_the_filed_case(client, runtime, tmp_path):
    to_attachments_step(client)
    assert upload(client, PNG).status_code == 200
    assert upload(client, PNG).status_code == 200  # the same post again (a retry): one file
    assert last_texts(client)[-2] == "Lampiran diterima (1/5)."
    assert len(uploads(tmp_path)) == 1
    for n, body in enumerate(({"button": "next"}, {"button": "biasa"}, {"button": "submit"})):
        client.post("/webchat/api/messages", json={"id": f"after-{n:04d}", **body})
    assert runtime.outbound.fetcher.run_once() == 1
    with runtime.sessions() as s:
        [a] = s.scalars(select(Attachment)).all()
        assert (a.channel, a.media_type, a.content_type, a.size, a.filename) == (
            "webchat", "photo", "image/png", len(PNG), "bukti.png")
        assert Path(a.stored_path).read_bytes() == PNG
        assert Path(a.stored_path).is_relative_to(tmp_path / "files" / str(a.case_id))
    assert uploads(tmp_path) == []  # the holding copy went into the case's folder


def test_an_oversized_upload_is_refused_from_its_length_and_nothing_is_stored(client, runtime, tmp_path):
    to_attachments_step(client)
    r = upload(client, b"x" * (1024 * 1024 + 1), name="besar.pdf", kind="application/pdf")
    assert r.status_code == 413
    assert r.get_json()["error"] == "Berkas terlalu besar (maksimal 1 MB), jadi tidak disimpan. Kirim berkas yang lebih kecil."
    # the length header alone is enough: nothing of the body is read
    class Unread(io.RawIOBase):
        def read(self, *args):
            raise AssertionError("the body was read")

    r = client.post("/webchat/api/files", environ_overrides={
        "wsgi.input": Unread(), "CONTENT_LENGTH": str(50 * 1024 * 1024),
        "CONTENT_TYPE": "multipart/form-data; boundary=x"})
    assert r.status_code == 413 and "maksimal 1 MB" in r.get_json()["error"]
    assert uploads(tmp_path) == []
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage).where(
            InboundMessage.provider_message_id.like("%upload%"))) == 0


def test_a_type_no_channel_takes_is_refused_in_the_visitors_language(client, runtime, tmp_path):
    to_attachments_step(client)
    client.post("/webchat/api/messages", json={"id": "lang-0001", "text": "/bahasa"})
    r = upload(client, b"<script>alert(1)</script>", name="x.html", kind="text/html")
    assert r.status_code == 415
    assert r.get_json()["error"].startswith("Files of type text/html are not accepted.")
    assert uploads(tmp_path) == []
    assert upload(client, b"", name="").status_code == 400


def test_the_phone_question_on_the_web_chat_asks_to_type_the_number(client):
    for n, body in enumerate(({"text": "/mulai"}, {"button": "agree"}, {"button": "file"}, {"text": "Siti"},
                              {"button": "skip"})):
        client.post("/webchat/api/messages", json={"id": f"phone-{n:04d}", **body})
    question = client.get("/webchat/api/messages?after=0").get_json()["messages"][-1]
    assert question["text"] == "Nomor telepon Anda? Ketik nomornya (mis. 0812xxxx), atau tekan Lewati."
    assert "tombol kirim nomor" not in question["text"]


# -- in Chromium, through the page -----------------------------------------------------------------
def test_a_photo_attached_through_the_page_in_chromium(browser, served, runtime, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    page = Page(browser)
    wait, click, type_, bot_says = page.wait, page.click, page.type, page.says

    def attach(path):
        wait.until(lambda d: d.find_element(By.ID, "attach").is_displayed())
        browser.find_element(By.ID, "file").send_keys(str(path))

    photo, big = tmp_path / "bukti.png", tmp_path / "besar.pdf"
    photo.write_bytes(PNG)
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 100))
    browser.get(served)
    bot_says("UU 27/2022")
    click("Setuju")
    click("Ajukan pengaduan")
    bot_says("Siapa nama Anda?")
    assert not browser.find_element(By.ID, "attach").is_displayed()  # only when files are asked for
    type_("Siti Aminah")
    click("Lewati")
    bot_says("Ketik nomornya")
    assert "tombol kirim nomor" not in browser.find_element(By.ID, "log").text
    type_("081234567890")
    click("Pengaduan")
    bot_says("Tuliskan pengaduan Anda")
    type_("Antrian di loket pelayanan data sangat panjang dan tidak teratur.")
    attach(big)
    bot_says("Berkas terlalu besar (maksimal 1 MB), jadi tidak disimpan.")
    assert uploads(tmp_path) == []
    attach(photo)
    bot_says("Lampiran diterima (1/5).")
    browser.save_screenshot(str(tmp_path / "webchat-attach.png"))  # kept for a person to look at
    click("Lanjut")
    click("Biasa")
    bot_says("Periksa kembali pengaduan Anda")
    assert not browser.find_element(By.ID, "attach").is_displayed()
    click("Kirim pengaduan")
    bot_says("nomor tiket ADU-2025-000001")
    browser.save_screenshot(str(tmp_path / "webchat-upload.png"))
    assert runtime.outbound.fetcher.run_once() == 1
    with runtime.sessions() as s:
        case = s.scalar(select(Case))
        [a] = s.scalars(select(Attachment).where(Attachment.case_id == case.id)).all()
        assert (a.media_type, a.content_type, a.filename) == ("photo", "image/png", "bukti.png")
        assert Path(a.stored_path).read_bytes() == PNG


def test_the_outbound_loop_looks_for_files_at_its_own_pace(client, runtime, tmp_path, monkeypatch):
    """The outbound loop is woken for every handled message's replies; it looks for files
    to fetch only when its last look found some or `files_every` seconds have gone by, and
    the citizen's upload is fetched all the same."""
    loop, looks = runtime.outbound, []
    look = loop.fetcher.run_once
    monkeypatch.setattr(loop.fetcher, "run_once", lambda: looks.append(look()) or looks[-1])
    loop.files_every = 60.0

    def a_round():  # what the loop does when woken (OutboundLoop.run)
        for work in loop.jobs:
            work()

    a_round()
    assert looks == [0]
    to_attachments_step(client)
    upload(client, PNG)
    for n, body in enumerate(({"button": "next"}, {"button": "biasa"}, {"button": "submit"})):
        client.post("/webchat/api/messages", json={"id": f"after-{n:04d}", **body})
        a_round()  # woken by the replies: no look yet
    assert looks == [0]
    fetch = runtime.uploads.fetch
    monkeypatch.setattr(runtime.uploads, "fetch", lambda *a: (_ for _ in ()).throw(OSError("disk away")))
    loop.files_every = 0.0  # as if a minute had gone by
    a_round()  # the file could not be read this time: it waits, and the look is not hurried for it
    loop.files_every = 60.0
    a_round()
    assert looks == [0, 0]
    monkeypatch.setattr(runtime.uploads, "fetch", fetch)
    loop.files_every = 0.0
    a_round()
    loop.files_every = 60.0
    a_round()  # the last look found a file: looks again at once
    a_round()  # that one found none: not again within the minute
    assert looks == [0, 0, 1, 0]
    with runtime.sessions() as s:
        assert s.scalar(select(Attachment.stored_path)) is not None
