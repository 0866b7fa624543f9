"""Reading SLA texts: "3 working days", "1 working hour", "10 minutes", "5 hari kerja".

The counting convention (see DESIGN.md, "Domain facts"):
- "N working days": due at closing time of the Nth working day after the start day;
- "N working hours" / "N working minutes": counted inside office hours only;
- "N minutes" / "N hours" / "N days": wall-clock time, holidays included.
Indonesian words (hari, jam, menit, kerja) are accepted as well, because SOPs are
written in Indonesian.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from flows.errors import SlaParseError

_UNITS = {
    "day": "days", "days": "days", "hari": "days",
    "hour": "hours", "hours": "hours", "jam": "hours",
    "minute": "minutes", "minutes": "minutes", "menit": "minutes", "min": "minutes",
}
_LIMITS = {"days": 3650, "hours": 87600, "minutes": 5256000}  # ten years
_PATTERN = re.compile(
    r"^\s*(?P<n>\d+)\s*(?P<w1>working\s+)?(?P<unit>[a-z]+)(?P<w2>\s+(kerja|working))?\s*$"
)


@dataclass(frozen=True)
class Sla:
    amount: int
    unit: str  # "days" | "hours" | "minutes"
    working: bool

    @property
    def wall_clock(self) -> timedelta:
        """The duration of a wall-clock SLA."""
        return timedelta(**{self.unit: self.amount})

    @property
    def working_seconds(self) -> int:
        """The duration of a working-hours/minutes SLA, in working seconds."""
        return self.amount * {"hours": 3600, "minutes": 60}[self.unit]

    def __str__(self) -> str:
        unit = self.unit[:-1] if self.amount == 1 else self.unit
        return f"{self.amount} {'working ' if self.working else ''}{unit}"

    def label(self, lang: str = "id") -> str:
        if lang == "en":
            return str(self)
        word = {"days": "hari", "hours": "jam", "minutes": "menit"}[self.unit]
        return f"{self.amount} {word}{' kerja' if self.working else ''}"


def parse_sla(text: str) -> Sla:
    """Parse an SLA text; raise SlaParseError naming what was not understood."""
    if not isinstance(text, str):
        raise SlaParseError(f"expected a text like '3 working days', got {text!r}")
    m = _PATTERN.match(text.lower())
    if not m or m["unit"] not in _UNITS:
        raise SlaParseError(
            f"cannot read SLA {text!r}; write e.g. '3 working days', '1 working hour', "
            "'10 minutes', '5 days' (or '3 hari kerja', '10 menit')"
        )
    if m["w1"] and m["w2"]:
        raise SlaParseError(f"cannot read SLA {text!r}: 'working' is written twice")
    amount, unit = int(m["n"]), _UNITS[m["unit"]]
    if amount < 1:
        raise SlaParseError(f"SLA {text!r} must be at least 1")
    if amount > _LIMITS[unit]:
        raise SlaParseError(f"SLA {text!r} is too long: at most {_LIMITS[unit]} {unit} (10 years)")
    return Sla(amount=amount, unit=unit, working=bool(m["w1"] or m["w2"]))


def lower_share(low: str, high: str) -> float | None:
    """The share of the SLA `high` that `low` is, if `low` is a lower bound of it (a range
    "1 – 3 Hari": 1/3); None if it is not (other units, or not fewer of them)."""
    a, b = parse_sla(low), parse_sla(high)
    if (a.unit, a.working) != (b.unit, b.working) or a.amount >= b.amount:
        return None
    return a.amount / b.amount


def reminder_fractions(cls, v: tuple[float, ...]) -> tuple[float, ...]:
    """A pydantic validator for `remind_at` (stages and periodic duties alike): each a
    fraction of the SLA in (0, 1.5], sorted."""
    if any(not 0 < f <= 1.5 for f in v):
        raise ValueError("each threshold must be a fraction of the SLA between 0 and 1.5")
    return tuple(sorted(v))
