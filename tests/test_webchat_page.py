"""The web chat page on a 390 px wide phone in Chromium: the newest choices are in view,
older ones stay disabled after a reload, and "end session" forgets the visitor."""
import pytest
from sqlalchemy import select

from storage.models import ChatSession
from tests.conftest import wib
from tests.page import Page
from tests.test_webchat import browser, served  # noqa: F401 (fixtures)

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}


@pytest.fixture
def runtime(make_runtime):
    return make_runtime(clock=lambda: wib(2025, 4, 8, 9, 0), office={"name": "BPS Kota Contoh"})


def _page(browser, served):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    page = Page(browser)
    browser.get(served)
    return page.wait, page.click, page.says


def buttons_state(browser):
    """Per message with buttons: (enabled?, every button inside the visible log and window?)."""
    return browser.execute_script("""
        var log = document.getElementById('log').getBoundingClientRect();
        return Array.prototype.map.call(document.querySelectorAll('#log .buttons'), function (box) {
          var buttons = Array.prototype.slice.call(box.querySelectorAll('button'));
          return [buttons.every(function (b) { return !b.disabled; }),
                  buttons.every(function (b) { var r = b.getBoundingClientRect();
                    return r.top >= log.top - 1 && r.bottom <= log.bottom + 1 && r.bottom <= window.innerHeight; })];
        });""")


def test_only_the_newest_choices_are_live_and_in_view_also_after_a_reload(browser, served):
    wait, click, bot_says = _page(browser, served)
    bot_says("UU 27/2022")
    click("Setuju")
    click("Ajukan pengaduan")
    bot_says("Siapa nama Anda?")
    browser.find_element("id", "text").send_keys("Siti Aminah")
    browser.find_element("id", "send").click()
    wait.until(lambda d: len(buttons_state(d)) >= 3)  # consent, menu, the email step's Skip
    state = buttons_state(browser)
    assert [live for live, _ in state] == [False] * (len(state) - 1) + [True]
    assert state[-1][1], "the newest choices are not in view"
    browser.refresh()
    wait.until(lambda d: len(buttons_state(d)) == len(state))
    after = buttons_state(browser)
    assert [live for live, _ in after] == [False] * (len(after) - 1) + [True], after  # was: all live
    assert after[-1][1], "after a reload the newest choices are not in view"
    click("Lewati")  # and the live one still works
    bot_says("Nomor telepon Anda?")


def test_end_session_forgets_this_browser(browser, served, runtime):
    from selenium.webdriver.common.by import By

    wait, click, bot_says = _page(browser, served)
    bot_says("UU 27/2022")
    click("Setuju")
    bot_says("Silakan pilih menu")
    browser.find_element(By.ID, "end").click()
    browser.switch_to.alert.accept()
    bot_says("Sesi diakhiri")
    assert "Silakan pilih menu" not in browser.find_element(By.ID, "log").text
    # (counted by state: a browser of an earlier test may still poll this server's app)
    with runtime.sessions() as s:
        assert len(s.scalars(select(ChatSession).where(ChatSession.ended_at.is_not(None))).all()) == 1
        live = len(s.scalars(select(ChatSession).where(ChatSession.ended_at.is_(None))).all())
    browser.find_element(By.ID, "again").click()
    bot_says("UU 27/2022")  # a new visitor: asked for consent again
    with runtime.sessions() as s:
        assert len(s.scalars(select(ChatSession).where(ChatSession.ended_at.is_(None))).all()) >= live + 1
