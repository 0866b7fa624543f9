"""The SKM survey in the chat, for any service user: /survei (and the menu, and the web chat
page's link), the profile and the nine elements answered by number, label or button, each
skippable; one response per chat per service per office day; on by default in pst-sorong."""
import uuid

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import Settings
from flows.presets import load_workflow
from storage import privacy
from storage.db import transaction
from storage.models import Citizen
from storage.models_survey import ELEMENT_COLUMNS, PROFILE_COLUMNS, SurveyResponse
from storage.privacy_export import citizen_data
from tests.chat import Chat
from tests.conftest import wit
from tests.test_webchat import browser, served  # noqa: F401 (fixtures)

NOW = wit(2025, 4, 8, 9, 0)


@pytest.fixture
def clock():
    return [NOW]


@pytest.fixture
def runtime(make_runtime, clock):
    """pst-sorong as shipped: nothing in the config turns the survey on."""
    return make_runtime(clock=lambda: clock[0], workflow={"preset": "pst-sorong"}, office={"name": "BPS Kota Sorong"})


def responses(runtime) -> list[dict]:
    with runtime.sessions() as s:
        return [{c: getattr(r, c) for c in ("service", "case_id", "unit_id", "channel", *PROFILE_COLUMNS,
                                             *ELEMENT_COLUMNS)}
                for r in s.scalars(select(SurveyResponse).order_by(SurveyResponse.id))]


def test_a_user_with_no_complaint_answers_on_whatsapp_by_numbers_and_skips_the_profile(runtime):
    chat = Chat(runtime, channel="whatsapp", chat_id="+6281100000001")
    assert chat.say("/survei")[-1].startswith("Sebelum mulai")  # consent first, then the survey
    replies = chat.say("1")  # Setuju
    assert replies[0].startswith("Survei Kepuasan Masyarakat (SKM) BPS Kota Sorong")
    assert replies[1] == "Layanan apa yang Anda terima?"
    assert [b["label"] for row in chat.last[-1]["buttons"] for b in row] == [
        "Pelayanan Perpustakaan", "Pelayanan Konsultasi Statistik", "Pelayanan Penjualan Produk Statistik",
        "Pelayanan Rekomendasi Kegiatan Statistik", "Lewati"]  # "Lainnya" is no service
    assert chat.say("2")[0].startswith("Data responden (1/4): berapa umur Anda?")
    assert chat.say("8")[0].startswith("(1/9) Bagaimana pendapat Saudara tentang kesesuaian persyaratan")  # skip all
    assert [b["label"] for row in chat.last[-1]["buttons"] for b in row] == [
        "Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai", "Lewati"]
    answers = ["4", "3", "3", "4", "2", "4", "4", "3"]
    for n, answer in enumerate(answers, start=2):
        assert chat.say(answer)[0].startswith(f"({n}/9) ")
    assert chat.say("empat")[:2] == [
        "Terima kasih atas penilaian Anda. Hasil survei diolah menjadi Indeks Kepuasan Masyarakat untuk "
        "perbaikan pelayanan.", "Silakan pilih menu:"]
    [row] = responses(runtime)
    assert row == {"service": "konsultasi", "case_id": None, "unit_id": None, "channel": "whatsapp",
                   **dict.fromkeys(PROFILE_COLUMNS), **dict(zip(ELEMENT_COLUMNS, [4, 3, 3, 4, 2, 4, 4, 3, 4]))}


def test_answers_by_label_button_and_age_in_years_each_skippable(runtime):
    chat = Chat(runtime, channel="telegram", chat_id="7001")
    chat.say("/mulai")
    chat.choose("agree")
    chat.choose("survey")  # from the menu
    chat.say(button="skm|service|perpustakaan")
    assert chat.say("34 tahun")[0].startswith("Data responden (2/4)")  # kept as its group only
    chat.say("perempuan")
    assert chat.say("SMA ke atas")[0].startswith("Mohon pilih salah satu pilihan")  # names no option
    assert chat.last[-1]["text"].startswith("Data responden (3/4)")  # the same question again
    chat.say("lewati")
    chat.say(button="skm|occupation|wirausaha")
    for answer in ["Sangat sesuai", "mudah", "lewati", "gratis", "kurang sesuai", "kompeten",
                   "sopan dan ramah", "dikelola dengan baik"]:
        chat.say(answer)
    assert chat.say(button="skm|u9|3")[0].startswith("Terima kasih atas penilaian Anda")
    [row] = responses(runtime)
    assert (row["age_group"], row["sex"], row["education"], row["occupation"]) == ("30_39", "P", None, "wirausaha")
    assert [row[u] for u in ELEMENT_COLUMNS] == [4, 3, None, 4, 2, 3, 3, 4, 3]


def test_one_response_per_chat_per_service_per_office_day(runtime, clock):
    chat = Chat(runtime, channel="whatsapp", chat_id="+6281100000002")
    chat.say("/survei")
    chat.say("1")
    chat.say("1")  # perpustakaan
    chat.say("8")  # no profile
    chat.say("4")  # u1, then left
    chat.say("/survei")
    assert chat.say("1")[0] == ("Terima kasih, Anda sudah mengisi survei untuk Pelayanan Perpustakaan hari ini. "
                                "Survei dapat diisi lagi besok.")
    chat.say("/survei")
    assert chat.say("2")[0].startswith("Data responden (1/4)")  # another service: welcome
    chat.say("/mulai")  # left before the first element: may begin again, into the same row
    chat.say("/survei")
    assert chat.say("2")[0].startswith("Data responden (1/4)")
    chat.say("8")
    chat.say("3")
    clock[0] = wit(2025, 4, 8, 23, 59)
    chat.say("/survei")
    assert chat.say("1")[0].startswith("Terima kasih, Anda sudah mengisi survei")
    clock[0] = wit(2025, 4, 9, 0, 1)  # the office's next day (WIT)
    chat.say("/survei")
    assert chat.say("1")[0].startswith("Data responden (1/4)")
    assert [(r["service"], r["u1"]) for r in responses(runtime)] == [("perpustakaan", 4), ("konsultasi", 3),
                                                                     ("perpustakaan", None)]


def test_on_by_default_in_pst_sorong_only_and_the_config_decides(make_runtime):
    assert Settings().survey_on(load_workflow("pst-sorong"))
    assert not Settings().survey_on(load_workflow("sp4n-lapor"))
    assert not Settings.model_validate({"survey": {"skm": False}}).survey_on(load_workflow("pst-sorong"))
    assert [c.id for c in Settings().survey_services(load_workflow("pst-sorong"))] == [
        "perpustakaan", "konsultasi", "penjualan", "rekomendasi"]
    default = Chat(make_runtime(clock=lambda: NOW))
    default.say("/mulai")
    menu = default.choose("agree")
    assert "survey" not in {b["payload"] for row in default.last[-1]["buttons"] for b in row}, menu
    assert default.say("/survei")[0] == "Survei Kepuasan Masyarakat belum dibuka di layanan ini."
    assert "/survei" not in default.say("/bantuan")[0]  # no promise of what is not there
    with default.runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(SurveyResponse)) == 0


def test_help_names_the_survey_command_where_it_runs(runtime):
    chat = Chat(runtime)
    chat.say("/mulai")
    chat.choose("agree")
    assert "/survei — isi Survei Kepuasan Masyarakat" in chat.say("/bantuan")[0]


def test_the_web_chat_page_opens_with_the_survey_from_its_link(runtime):
    client = create_app(runtime=runtime).test_client()
    for url in ("/survei", "/survey", "/?survei=1"):
        assert 'data-start="/survei"' in client.get(url).get_data(as_text=True), url
    assert 'data-start="/mulai"' in client.get("/").get_data(as_text=True)
    # what the page then sends: the command, as a typed message
    client.post("/webchat/api/messages", json={"id": uuid.uuid4().hex, "text": "/survei"})
    consent = client.get("/webchat/api/messages?after=0").get_json()["messages"]
    client.post("/webchat/api/messages", json={"id": uuid.uuid4().hex, "button": "agree"})
    after = client.get(f"/webchat/api/messages?after={consent[-1]['id']}").get_json()["messages"]
    assert after[-1]["text"] == "Layanan apa yang Anda terima?"


def test_new_responses_from_one_web_chat_address_are_limited(make_runtime):
    rt = make_runtime(clock=lambda: NOW, workflow={"preset": "pst-sorong"}, survey={"responses_per_ip_hour": 2})
    app = create_app(runtime=rt)
    texts = []
    for _ in range(3):  # three browsers (new cookies) behind one address
        client = app.test_client()
        for body in ({"text": "/survei"}, {"button": "agree"}, {"button": "skm|service|perpustakaan"}):
            client.post("/webchat/api/messages", json={"id": uuid.uuid4().hex, **body})
        texts.append(client.get("/webchat/api/messages?after=0").get_json()["messages"][-2]["text"])
    assert texts[:2] == ["Layanan apa yang Anda terima?"] * 2
    assert texts[2] == "Terlalu banyak survei dikirim dari jaringan ini. Mohon coba lagi dalam 60 menit."
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(SurveyResponse)) == 2


def test_a_respondents_answers_are_in_their_export_and_go_when_they_are_erased(runtime):
    chat = Chat(runtime, channel="whatsapp", chat_id="+6281100000003")
    for text in ["/survei", "1", "3", "1", "4"] + ["4"] * 9:  # penjualan; under 20, then no more profile
        chat.say(text)
    with transaction(runtime.sessions) as s:
        citizen = s.scalar(select(Citizen))
        [mine] = citizen_data(s, citizen, NOW)["surveys"]
        assert (mine["service"], mine["channel"], mine["ticket"]) == ("penjualan", "whatsapp", None)
        assert mine["profile"] == {"age_group": "lt20", "sex": None, "education": None, "occupation": None}
        assert mine["answers"] == dict.fromkeys(ELEMENT_COLUMNS, 4)
        counts = privacy.erase(s, runtime.cases, citizen=citizen, case=None, by="Dina", reason="permintaan", now=NOW)
    assert counts.surveys == 1 and responses(runtime) == []


def test_past_retention_an_answer_stays_counted_and_is_no_ones(runtime):
    from bot.privacy import purge
    from storage.survey import period_ikm

    chat = Chat(runtime, channel="whatsapp", chat_id="+6281100000004")
    for text in ["/survei", "1", "1", "8"] + ["3"] * 9:
        chat.say(text)
    purge(runtime, now=wit(2030, 4, 8, 8, 0))  # not yet five years
    assert responses(runtime)[0]["u1"] == 3
    with runtime.sessions() as s:
        assert s.scalar(select(SurveyResponse.citizen_id)) is not None
    assert purge(runtime, now=wit(2030, 4, 8, 10, 0)).surveys == 1
    with runtime.sessions() as s:
        assert s.scalar(select(SurveyResponse.citizen_id)) is None
        assert period_ikm(s, wit(2025, 4, 1), wit(2025, 5, 1)).score == 75  # 3 x 25, still counted


def test_the_survey_link_in_chromium_starts_the_survey_once(browser, served):
    import time

    from selenium.webdriver.common.by import By

    from tests.page import Page

    page = Page(browser)
    browser.get(served + "survei")
    page.says("UU 27/2022")
    page.click("Setuju")
    page.says("Layanan apa yang Anda terima?")
    page.click("Pelayanan Perpustakaan")
    page.says("Data responden (1/4)")
    browser.refresh()  # a reload carries on: the link does not begin the survey again
    page.says("Data responden (1/4)")
    time.sleep(2)
    log = browser.find_element(By.ID, "log").text
    assert log.count("Survei Kepuasan Masyarakat (SKM)") == 1, log
    page.click("Lewati data responden")
    page.says("(1/9) Bagaimana pendapat Saudara")


def test_asked_before_consenting_where_the_survey_is_off_the_menu_comes_once(make_runtime):
    chat = Chat(make_runtime(clock=lambda: NOW))
    chat.say("/survei")
    assert chat.choose("agree") == ["Survei Kepuasan Masyarakat belum dibuka di layanan ini.", "Silakan pilih menu:"]
