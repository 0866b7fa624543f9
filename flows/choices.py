"""Reading a choice from a button press, a number ("1", "satu") or the option's words.

A numbered list is how WhatsApp shows buttons, and a person may type the number, the
number as a word, the label, or a word of the label that tells one option from the
others ("belum" for "Belum selesai"). A word that fits several options picks none.
"""
from __future__ import annotations

import re

from flows.messages import Button, Inbound

_NUMBERS = {
    "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7,
    "delapan": 8, "sembilan": 9, "sepuluh": 10,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
}
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_WORDS = 3  # longer texts are messages, not choices
MAX_CHARS = 80


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def pick(text: str, options: list[Button]) -> str | None:
    """The payload of the option a typed `text` names, or None."""
    text = text.casefold().strip().rstrip(".)!")
    if not text or len(text) > MAX_CHARS or not options:
        return None
    number = int(text) if text.isdigit() else _NUMBERS.get(text)
    if number is not None:
        return options[number - 1].payload if 1 <= number <= len(options) else None
    for o in options:
        if o.label.casefold().strip() == text or o.payload.casefold() == text:
            return o.payload
    words = _words(text)
    if not words or len(words) > MAX_WORDS:
        return None
    fits = [o for o in options if set(words) <= set(_words(o.label))]
    return fits[0].payload if len(fits) == 1 else None


def choose(inbound: Inbound, options: list[Button]) -> str | None:
    """The payload of the option the person picked (a button or a typed answer), or None."""
    if inbound.button is not None:
        return inbound.button if any(o.payload == inbound.button for o in options) else None
    return pick(inbound.plain_text, options)
