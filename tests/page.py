"""The web chat page in a browser, as a person uses it: click a live button by its label,
type and send, wait for the bot to say something (tests/test_webchat*.py)."""
from __future__ import annotations


class Page:
    def __init__(self, browser, timeout: float = 15):
        from selenium.webdriver.support.ui import WebDriverWait

        self.browser, self.wait = browser, WebDriverWait(browser, timeout)

    def click(self, label: str) -> None:
        """The newest enabled button with this label (older choices are disabled)."""
        from selenium.webdriver.common.by import By

        xpath = f"//div[contains(@class,'buttons')]/button[normalize-space()='{label}' and not(@disabled)]"
        self.wait.until(lambda d: d.find_elements(By.XPATH, xpath))[-1].click()

    def type(self, text: str) -> None:
        from selenium.webdriver.common.by import By

        self.browser.find_element(By.ID, "text").send_keys(text)
        self.browser.find_element(By.ID, "send").click()

    def says(self, fragment: str) -> None:
        """Wait until the bot's words are on the page; show the page's text if they never come."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        try:
            self.wait.until(ec.text_to_be_present_in_element((By.ID, "log"), fragment))
        except Exception:
            raise AssertionError(f"{fragment!r} not on the page:\n"
                                 f"{self.browser.find_element(By.ID, 'log').text}") from None
