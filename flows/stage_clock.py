"""The clock of one stage of a case: its due time, pauses, reminder marks and time left.

Three ways of counting, one per kind of SLA (DESIGN.md, "Domain facts"):
- "N working days": days. The clock runs from the closing time of the start day (the
  start day itself is the arrival's grace: a case arriving at 09.00 or at 15.45 is due
  the same day) to the closing time of the Nth working day after it. Each working day is
  one day whatever its office hours. Time paused (waiting on the citizen) is counted in
  working days the same way, a part of a day for its share, and moves the due time to
  the closing time of the working day that the paused days carry it to: a whole day
  paused moves it by one day, part of a day to the next closing time. So the due time
  of a day clock is always a closing time.
- "N working hours/minutes": office seconds from the next opening; pauses add the
  paused office seconds.
- wall-clock SLAs: every second counts; pauses add the paused seconds.

Reminder thresholds are fractions of the allowance on the clock's own scale: half of a
"10 working days" clock is the closing time of its fifth working day.

`paused_seconds` is what storage keeps of the pauses, on the SLA's own scale: wall-clock
or office seconds; for a day clock, the office time of the working days the pauses add,
laid onto the working days after the unpaused due time (so a day paused on an 8.5-hour
Tuesday and carried onto a 9-hour Friday is kept as 9 hours: one day).
All instants are timezone-aware; figures returned are seconds unless said otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from flows.calendar import OfficeCalendar
from flows.sla import Sla

_EPS = 1e-6  # of a day (under a tenth of a second): float noise, not a pause


@dataclass(frozen=True)
class StageClock:
    sla: Sla
    started_at: datetime
    paused_seconds: float = 0.0
    paused_at: datetime | None = None

    @property
    def counts_days(self) -> bool:
        return self.sla.working and self.sla.unit == "days"

    # -- the clock's own scale: days, office seconds or seconds ------------------------
    def _origin(self, cal: OfficeCalendar) -> datetime:
        """Where the counted time begins: the start day's closing time for a day clock."""
        if self.counts_days:
            return cal.due(self.started_at, replace(self.sla, amount=0))
        return self.effective_start(cal)

    def _span(self, cal: OfficeCalendar, a: datetime, b: datetime) -> float:
        if self.counts_days:
            return cal.day_span(a, b)
        if self.sla.working:
            return cal.working_seconds(a, b)
        return (b - a).total_seconds()

    def _advance(self, cal: OfficeCalendar, at: datetime, amount: float) -> datetime:
        if self.counts_days:
            whole = round(amount)
            return cal.add_day_span(at, whole if abs(amount - whole) < _EPS else amount)
        if amount <= 0:
            return at.astimezone(timezone.utc)
        if self.sla.working:
            return cal.add_working_seconds(at, amount)
        return (at + timedelta(seconds=amount)).astimezone(timezone.utc)

    def _length(self, cal: OfficeCalendar) -> float:
        """The allowance on the clock's scale, without pauses."""
        if self.counts_days:
            return float(self.sla.amount)
        return self._span(cal, self.effective_start(cal), cal.due(self.started_at, self.sla))

    def _paused(self, cal: OfficeCalendar) -> float:
        """What the pauses so far add, on the clock's scale (whole days for a day clock)."""
        if not self.counts_days:
            return self.paused_seconds
        return max(0, math.ceil(self._days_paused(cal) - _EPS)) if self.paused_seconds > 0 else 0

    def _days_paused(self, cal: OfficeCalendar) -> float:
        """The paused working days, read back from the office time they add after the
        unpaused due time."""
        base = cal.due(self.started_at, self.sla)
        return cal.day_span(base, cal.add_working_seconds(base, self.paused_seconds))

    # -- figures ----------------------------------------------------------------------
    def effective_start(self, cal: OfficeCalendar) -> datetime:
        """When the office clock really starts: the next opening for working SLAs."""
        if self.sla.working:
            return cal.next_opening(self.started_at).astimezone(timezone.utc)
        return self.started_at.astimezone(timezone.utc)

    def due(self, cal: OfficeCalendar) -> datetime:
        """The due time in UTC, moved later by the time spent paused so far."""
        if self.counts_days:
            return cal.due(self.started_at, replace(self.sla, amount=self.sla.amount + self._paused(cal)))
        return self._advance(cal, cal.due(self.started_at, self.sla), self._paused(cal))

    def threshold_at(self, cal: OfficeCalendar, fraction: float) -> datetime:
        """When `fraction` of the allowance will have elapsed, given the pauses so far."""
        return self._advance(cal, self._origin(cal), self._length(cal) * fraction + self._paused(cal))

    def fraction_elapsed(self, cal: OfficeCalendar, now: datetime) -> float:
        """The share of the allowance used by now (pauses excluded)."""
        end = self.paused_at if self.paused_at is not None else now
        used = max(0.0, self._span(cal, self._origin(cal), end) - self._paused(cal))
        length = self._length(cal)
        return used / length if length > 0 else 1.0

    def remaining(self, cal: OfficeCalendar, now: datetime) -> float:
        """Office (or wall-clock) seconds left until due; negative once overdue. While
        paused, what was left when the pause began."""
        ref = self.paused_at if self.paused_at is not None else now
        if self.sla.working:
            return cal.working_seconds(ref, self.due(cal))
        return (self.due(cal) - ref).total_seconds()

    # -- pause and resume ---------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def pause(self, now: datetime) -> "StageClock":
        return self if self.paused else replace(self, paused_at=now)

    def resume(self, cal: OfficeCalendar, now: datetime) -> "StageClock":
        if not self.paused:
            return self
        # Pauses are counted from the later of the pause and the clock's real start (for a
        # day clock the start day's closing: a pause on the start day costs it nothing).
        begin = max(self.paused_at, self._origin(cal))
        spent = max(0.0, self._span(cal, begin, now))
        if not self.counts_days:
            return replace(self, paused_at=None, paused_seconds=self.paused_seconds + spent)
        if spent <= 0:
            return replace(self, paused_at=None)
        # Carry the paused days onto the days after the unpaused due time and keep their
        # office time there (what storage holds), so that pauses add up day by day.
        base = cal.due(self.started_at, self.sla)
        reached = cal.add_day_span(base, self._days_paused(cal) + spent)
        return replace(self, paused_at=None, paused_seconds=cal.working_seconds(base, reached))
