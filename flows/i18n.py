"""Message catalogs (flows/locales/<lang>.toml) and dates in the citizen's language.

All user-facing text lives in the catalogs; code refers to it by key. Indonesian is
the default, English the second language; a key missing in English falls back to
Indonesian so a citizen never sees a bare key.
"""
from __future__ import annotations

import tomllib
from datetime import datetime
from functools import lru_cache
from importlib import resources

from babel.dates import format_datetime

from flows.calendar import OfficeCalendar, zone_abbreviation

LANGUAGES = ("id", "en")
DEFAULT = "id"


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    text = (resources.files("flows") / "locales" / f"{lang}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def language(hint: str | None) -> str:
    """Our language for a hint like Telegram's "en-GB"; Indonesian otherwise."""
    code = (hint or "").split("-")[0].lower()
    return code if code in LANGUAGES else DEFAULT


def t(lang: str, key: str, **values) -> str:
    lang = lang if lang in LANGUAGES else DEFAULT
    text = catalog(lang).get(key) or catalog(DEFAULT)[key]
    return text.format(**values) if values else text


def when(cal: OfficeCalendar, at: datetime, lang: str) -> str:
    """"Kamis, 10 April 2025 pukul 16.00 WIB" / "Thursday, 10 April 2025 at 16:00 WIB"."""
    local = cal.local(at)
    pattern = "EEEE, d MMMM y 'pukul' HH.mm" if lang == "id" else "EEEE, d MMMM y 'at' HH:mm"
    return f"{format_datetime(local, pattern, locale=lang)} {zone_abbreviation(cal.timezone_name)}"


def day(cal: OfficeCalendar, at: datetime, lang: str) -> str:
    """"Kamis, 10 April 2025"."""
    return format_datetime(cal.local(at), "EEEE, d MMMM y", locale=lang)
