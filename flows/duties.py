"""Periodic duties: what an SOP asks of a role every month or year (a monthly report, a
yearly satisfaction survey), as clocks.

A duty is for a period ("2025-04" for April 2025, "2025" for the year). It opens when
its period has ended, at the office's first opening after that (the first working day
of the next month or year), and is due by its own SLA counted from there like every
stage clock ("1 working day": at the close of the next working day). Where the SOP
gives no time, a month's duty is due in 5 working days and a year's in 20 (about the
end of January); the preset says so beside the SOP's words.
"""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal

from babel.dates import format_date
from pydantic import BaseModel, ConfigDict, Field, field_validator

from flows.calendar import OfficeCalendar
from flows.errors import DomainError, SlaParseError
from flows.sla import parse_sla, reminder_fractions

DEFAULT_SLA = {"month": "5 working days", "year": "20 working days"}
COMMAND = r"^[a-z][a-z0-9_]{0,31}$"  # what a chat command can be (Telegram's rule)


class PeriodError(DomainError):
    """A period that does not name one of the duty's periods."""


class PeriodicDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=COMMAND)  # stable: the key of the duty's rows, e.g. "lapor_bulanan"
    step_id: str  # the SOP activity, as written
    step_en: str
    actor: str  # the role that does it (and is reminded)
    sop_time: str | None = None  # the SOP's own words for the time
    every: Literal["month", "year"]
    sla: str | None = None  # the enforced clock from the duty's opening; default per `every`
    sla_note: str | None = None  # why the enforced clock reads the SOP so
    command: str | None = Field(None, pattern=COMMAND)  # chat command marking it done (default: the id)
    command_en: str | None = Field(None, pattern=COMMAND)
    remind_at: tuple[float, ...] = (0.5, 0.8, 1.0)  # as the stages' default

    _fractions = field_validator("remind_at")(reminder_fractions)

    @property
    def clock_sla(self) -> str:
        return self.sla or DEFAULT_SLA[self.every]

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(c for c in (self.command or self.id, self.command_en) if c)

    def label(self, lang: str) -> str:
        return self.step_id if lang == "id" else self.step_en


def check_duties(periodic, fail, declared_roles, taken: dict[str, str], reserved) -> None:
    """The workflow's duties: unique ids, an officer role as actor, a readable SLA, and
    chat commands that neither a fixed command, a transition nor another duty uses."""
    ids: dict[str, int] = {}
    commands = dict(taken)
    for i, p in enumerate(periodic):
        key = f"periodic[{i}]"
        if p.id in ids:
            fail(f"{key}.id", f"{p.id!r} is already the id of periodic[{ids[p.id]}]")
        ids[p.id] = i
        if p.actor not in declared_roles:
            fail(f"{key}.actor", f"{p.actor!r} is not a role declared in [roles] (a duty is an officer's: "
                                 f"{', '.join(sorted(declared_roles))})")
        try:
            parse_sla(p.clock_sla)
        except SlaParseError as exc:
            fail(f"{key}.sla", str(exc))
        for field, cmd in (("command", p.command or p.id), ("command_en", p.command_en)):
            if cmd is None:
                continue
            if cmd in reserved:
                fail(f"{key}.{field}", f"/{cmd} is a fixed command of the chat (citizens or officers); "
                                       "choose another name")
            if cmd in commands:
                fail(f"{key}.{field}", f"/{cmd} already names {commands[cmd]!r}")
            commands[cmd] = f"duty {p.id}"


# -- periods ------------------------------------------------------------------------------
def period_of(every: str, d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}" if every == "month" else f"{d.year:04d}"


def first_day(every: str, key: str) -> date:
    if every == "month":
        year, month = key.split("-")
        return date(int(year), int(month), 1)
    return date(int(key), 1, 1)


def following(every: str, key: str) -> str:
    d = first_day(every, key)
    if every == "year":
        return f"{d.year + 1:04d}"
    return f"{d.year + d.month // 12:04d}-{d.month % 12 + 1:02d}"


def preceding(every: str, key: str) -> str:
    d = first_day(every, key)
    if every == "year":
        return f"{d.year - 1:04d}"
    return f"{d.year - (d.month == 1):04d}-{(d.month - 2) % 12 + 1:02d}"


def parse_period(every: str, text: str) -> str:
    """"2025-04" for a monthly duty, "2025" for a yearly one; PeriodError otherwise."""
    text = (text or "").strip()
    try:
        key = period_of(every, first_day(every, text))
    except (ValueError, TypeError):
        key = None
    if key != text:
        raise PeriodError("a month as YYYY-MM, e.g. 2025-04" if every == "month" else "a year as YYYY, e.g. 2025")
    return key


def opening(cal: OfficeCalendar, every: str, key: str) -> datetime:
    """When the duty for `key` opens: the office's first opening after the period ended."""
    end = first_day(every, following(every, key))
    return cal.next_opening(datetime.combine(end, time(0), cal.tz))


def latest_ended(every: str, today: date) -> str:
    return preceding(every, period_of(every, today))


def period_label(every: str, key: str, lang: str) -> str:
    """"April 2025" / "2025"."""
    if every == "year":
        return key
    return format_date(first_day(every, key), "MMMM y", locale=lang)
