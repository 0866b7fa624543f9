"""Reading a choice from a button press, a number ("1", "satu") or the option's label."""
from __future__ import annotations

from flows.messages import Button, Inbound

_NUMBERS = {
    "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7,
    "delapan": 8, "sembilan": 9, "sepuluh": 10,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
}


def choose(inbound: Inbound, options: list[Button]) -> str | None:
    """The payload of the option the citizen picked, or None if it matches none."""
    if inbound.button is not None:
        return inbound.button if any(o.payload == inbound.button for o in options) else None
    text = inbound.plain_text.casefold().strip().rstrip(".)")
    if not text:
        return None
    number = int(text) if text.isdigit() else _NUMBERS.get(text)
    if number is not None:
        return options[number - 1].payload if 1 <= number <= len(options) else None
    for o in options:
        if o.label.casefold() == text or o.payload.casefold() == text:
            return o.payload
    return None
