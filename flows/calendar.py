"""The office calendar: working days, office hours and due times, in the office time zone.

Working days are Monday-Friday (or whatever days have office hours) minus Indonesian
public holidays and cuti bersama (the `holidays` package, categories public and
government) minus the office's own extra days off. Datetimes come in and go out
timezone-aware; due times are returned in UTC, which is what storage keeps.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

import holidays

from flows.errors import CalendarError
from flows.sla import Sla

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Civil service hours (Mon-Thu 07.30-16.00, Fri 07.30-16.30); DESIGN.md "Domain facts".
CIVIL_SERVICE_HOURS: dict[int, tuple[time, time]] = {
    **{d: (time(7, 30), time(16, 0)) for d in range(4)},
    4: (time(7, 30), time(16, 30)),
}
_SEARCH_LIMIT_DAYS = 400  # a year of closed days means the configuration is wrong


@lru_cache(maxsize=64)
def _indonesian_holidays(year: int) -> dict[date, str]:
    if not holidays.ID.start_year <= year <= holidays.ID.end_year:
        raise CalendarError(
            f"no Indonesian holiday data for {year} "
            f"(known years: {holidays.ID.start_year}-{holidays.ID.end_year})"
        )
    found = holidays.country_holidays(
        "ID", categories=("public", "government"), language="id", years=year
    )
    return {d: name for d, name in found.items()}


@dataclass(frozen=True)
class Day:
    """One calendar day as the office sees it."""

    day: date
    working: bool
    opens: time | None
    closes: time | None
    reason: str | None  # why it is not a working day (holiday name, weekend, day off)


class OfficeCalendar:
    def __init__(
        self,
        timezone_name: str = "Asia/Jakarta",
        hours: Mapping[int, tuple[time, time]] | None = None,
        extra_days_off: Mapping[date, str] | Iterable[date] = (),
    ):
        try:
            self.tz = ZoneInfo(timezone_name)
        except Exception as exc:  # ZoneInfoNotFoundError, ValueError
            raise CalendarError(f"unknown time zone {timezone_name!r}") from exc
        self.timezone_name = timezone_name
        self.hours = dict(CIVIL_SERVICE_HOURS if hours is None else hours)
        for wd, (opens, closes) in self.hours.items():
            if not opens < closes:
                raise CalendarError(f"{WEEKDAYS[wd]}: opening {opens} is not before closing {closes}")
        if not self.hours:
            raise CalendarError("the office is open on no weekday")
        self._days: dict[date, Day] = {}
        # A stage clock asks for its due time and its start's next opening several times
        # per reminder (thresholds, the new due time, the time left): remember the recent
        # answers. Bounded, as a scheduler sees a million clocks in its life.
        self.due = lru_cache(maxsize=4096)(self.due)
        self.next_opening = lru_cache(maxsize=4096)(self.next_opening)
        self.add_day_span = lru_cache(maxsize=4096)(self.add_day_span)
        if isinstance(extra_days_off, Mapping):
            self.extra_days_off = dict(extra_days_off)
        else:
            self.extra_days_off = {d: "hari libur kantor" for d in extra_days_off}

    # -- days -------------------------------------------------------------------------
    def holiday(self, d: date) -> str | None:
        """The name of the national holiday or cuti bersama on d, if any."""
        return _indonesian_holidays(d.year).get(d)

    def day(self, d: date) -> Day:
        # Remembered: a calendar never changes once made, and the clock arithmetic asks
        # for the same few weeks of days thousands of times in a scheduler tick.
        if (known := self._days.get(d)) is None:
            known = self._days[d] = self._day(d)
        return known

    def _day(self, d: date) -> Day:
        hours = self.hours.get(d.weekday())
        reason = None
        if (name := self.holiday(d)) is not None:
            reason = name
        elif d in self.extra_days_off:
            reason = self.extra_days_off[d]
        elif hours is None:
            reason = "akhir pekan" if d.weekday() >= 5 else "kantor tutup"
        if reason is not None:
            return Day(d, False, None, None, reason)
        return Day(d, True, hours[0], hours[1], None)

    def is_working_day(self, d: date) -> bool:
        return self.day(d).working

    def month(self, year: int, month: int) -> list[Day]:
        if not 1 <= month <= 12:
            raise CalendarError(f"month {month} is not between 1 and 12")
        _indonesian_holidays(year)  # says which years the calendar knows
        d = date(year, month, 1)
        days = []
        while d.month == month:
            days.append(self.day(d))
            d += timedelta(days=1)
        return days

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after d."""
        for _ in range(_SEARCH_LIMIT_DAYS):
            d += timedelta(days=1)
            if self.is_working_day(d):
                return d
        raise CalendarError(f"no working day within {_SEARCH_LIMIT_DAYS} days after {d}")

    # -- instants ---------------------------------------------------------------------
    def local(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            raise CalendarError(f"{at.isoformat()} has no time zone; cannot place it")
        return at.astimezone(self.tz)

    def _bounds(self, d: date) -> tuple[datetime, datetime] | None:
        info = self.day(d)
        if not info.working:
            return None
        return (
            datetime.combine(d, info.opens, self.tz),
            datetime.combine(d, info.closes, self.tz),
        )

    def is_open(self, at: datetime, *, closing_included: bool = False) -> bool:
        at = self.local(at)
        bounds = self._bounds(at.date())
        if bounds is None:
            return False
        return bounds[0] <= at <= bounds[1] if closing_included else bounds[0] <= at < bounds[1]

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself when the office is open then, else the next opening (local time)."""
        at = self.local(at)
        bounds = self._bounds(at.date())
        if bounds is not None and at < bounds[1]:
            return max(at, bounds[0])
        opens, _ = self._bounds(self.next_working_day(at.date()))
        return opens

    def start_day(self, at: datetime) -> date:
        """The day a working-day clock starts: today if open or yet to open, else the next."""
        return self.next_opening(at).date()

    # -- arithmetic -------------------------------------------------------------------
    def due(self, start: datetime, sla: Sla) -> datetime:
        """When an SLA that starts at `start` falls due, in UTC."""
        if not sla.working:
            try:
                return (self.local(start) + sla.wall_clock).astimezone(timezone.utc)
            except OverflowError:
                raise CalendarError(f"{sla} after {start:%Y-%m-%d} is beyond the calendar") from None
        if sla.unit == "days":
            d = self.start_day(start)
            for _ in range(sla.amount):
                d = self.next_working_day(d)
            return self._bounds(d)[1].astimezone(timezone.utc)
        return self.add_working_seconds(start, sla.working_seconds)

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant `seconds` of office time after `start`, in UTC."""
        at = self.next_opening(start)
        remaining = timedelta(seconds=seconds)
        for _ in range(_SEARCH_LIMIT_DAYS * 10):
            closes = self._bounds(at.date())[1]
            if at + remaining <= closes:
                return (at + remaining).astimezone(timezone.utc)
            remaining -= closes - at
            at = self._bounds(self.next_working_day(at.date()))[0]
        raise CalendarError(f"cannot add {seconds} working seconds to {start.isoformat()}")

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Office time between two instants; negative when end is before start."""
        if end < start:
            return -self.working_seconds(end, start)
        return sum((hi - lo).total_seconds() for lo, hi, _ in self._office_parts(start, end))

    def _office_parts(self, start: datetime, end: datetime):
        """(from, to, that day's office hours) of each working day's office time between
        two instants (start <= end)."""
        start, end = self.local(start), self.local(end)
        d = start.date()
        while d <= end.date():
            bounds = self._bounds(d)
            if bounds is not None:
                lo, hi = max(bounds[0], start), min(bounds[1], end)
                if hi > lo:
                    yield lo, hi, bounds
            d += timedelta(days=1)

    # A "N working days" clock counts days, not hours: each working day's office hours are
    # one day, whatever their length (a Friday's 9 hours are no more a day than a Monday's
    # 8.5), and part of a day counts for its share. Pauses are measured and carried this way
    # (flows.stage_clock), so that a whole day paused moves a due time by exactly a day.
    def day_span(self, start: datetime, end: datetime) -> float:
        """Working days between two instants, each day's office hours counting as one;
        negative when end is before start."""
        if end < start:
            return -self.day_span(end, start)
        return sum((hi - lo) / (day[1] - day[0]) for lo, hi, day in self._office_parts(start, end))

    def add_day_span(self, start: datetime, days: float) -> datetime:
        """The instant `days` working days (as `day_span` counts them) after `start`, in UTC.
        A whole number of days from a closing time lands on a closing time."""
        at = self.next_opening(start)
        remaining = days
        for _ in range(_SEARCH_LIMIT_DAYS * 10):
            opens, closes = self._bounds(at.date())
            left = (closes - at) / (closes - opens)  # the share of this day still to come
            if remaining <= left + 1e-9:
                return (closes if remaining >= left - 1e-9 else at + remaining * (closes - opens)
                        ).astimezone(timezone.utc)
            remaining -= left
            at = self._bounds(self.next_working_day(at.date()))[0]
        raise CalendarError(f"cannot add {days} working days to {start.isoformat()}")

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Whole working days after the start day up to and including the end day."""
        d, count = self.start_day(start), 0
        last = self.local(end).date()
        while d < last:
            d = self.next_working_day(d)
            if d <= last:
                count += 1
        return count

    def weeks(self, start: datetime, end: datetime) -> list[tuple[date, datetime]]:
        """The local weeks (Monday to Sunday) that [start, end) touches: each Monday, and the
        instant its week begins (UTC)."""
        monday = self.local(start).date()
        monday -= timedelta(days=monday.weekday())
        weeks = []
        while True:
            begins = datetime.combine(monday, time(0), self.tz).astimezone(timezone.utc)
            if weeks and begins >= end:
                return weeks
            weeks.append((monday, begins))
            monday += timedelta(days=7)

    def cuts(self, start: datetime, end: datetime) -> list[datetime]:
        """Every local midnight and closing time from start's local day to end's, in UTC, sorted.
        Instants between two neighbouring cuts share the local date and the side of that day's
        closing time: all `working_days_between` reads of an instant (`start_day` looks at the
        closing time, the end only at the date). So reports count instants by interval."""
        d, last, cuts = self.local(start).date(), self.local(max(start, end)).date(), set()
        while d <= last:
            # in UTC before the set: aware datetimes of one zone compare by wall clock (DST)
            cuts.add(datetime.combine(d, time(0), self.tz).astimezone(timezone.utc))
            if (hours := self.hours.get(d.weekday())) is not None:
                cuts.add(datetime.combine(d, hours[1], self.tz).astimezone(timezone.utc))
            d += timedelta(days=1)
        return sorted(cuts)


def parse_hours(text: str) -> tuple[time, time] | None:
    """Read "07:30-16:00" (or "07.30-16.00"); an empty text or "closed"/"tutup" is None."""
    text = text.strip().lower()
    if text in ("", "closed", "tutup", "libur"):
        return None
    try:
        opens, closes = (time.fromisoformat(p.strip().replace(".", ":")) for p in text.split("-"))
    except ValueError as exc:
        raise CalendarError(f"cannot read office hours {text!r}; write e.g. '07:30-16:00'") from exc
    if not opens < closes:
        raise CalendarError(f"office hours {text!r}: opening is not before closing")
    return opens, closes


def parse_week(spec: Mapping[str, str]) -> dict[int, tuple[time, time]]:
    """Read {"mon": "07:30-16:00", ...}; weekdays left out are closed."""
    week = {}
    for name, text in spec.items():
        if name not in WEEKDAYS:
            raise CalendarError(f"{name!r} is not a weekday (use {', '.join(WEEKDAYS)})")
        try:
            hours = parse_hours(text)
        except CalendarError as exc:
            raise CalendarError(f"{name}: {exc}") from exc
        if hours is not None:
            week[WEEKDAYS.index(name)] = hours
    if not week:
        raise CalendarError("the office is open on no weekday")
    return week


_ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
               "Asia/Jayapura": "WIT"}


def zone_abbreviation(timezone_name: str) -> str:
    """WIB / WITA / WIT for Indonesia's zones; the zone name otherwise."""
    return _ZONE_NAMES.get(timezone_name, timezone_name)
