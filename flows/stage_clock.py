"""The clock of one stage of a case: its due time, pauses, elapsed and remaining time.

Working SLAs count office time only; wall-clock SLAs count every second. Time spent
paused (waiting on the citizen) is counted in the same way and added to the due time.
All figures are seconds; all instants are timezone-aware.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from flows.calendar import OfficeCalendar
from flows.sla import Sla


@dataclass(frozen=True)
class StageClock:
    sla: Sla
    started_at: datetime
    paused_seconds: float = 0.0
    paused_at: datetime | None = None

    # -- the two ways of counting ---------------------------------------------------
    def _span(self, cal: OfficeCalendar, a: datetime, b: datetime) -> float:
        if self.sla.working:
            return cal.working_seconds(a, b)
        return (b - a).total_seconds()

    def _shift(self, cal: OfficeCalendar, at: datetime, seconds: float) -> datetime:
        if seconds <= 0:
            return at.astimezone(timezone.utc)
        if self.sla.working:
            return cal.add_working_seconds(at, seconds)
        return (at + timedelta(seconds=seconds)).astimezone(timezone.utc)

    def effective_start(self, cal: OfficeCalendar) -> datetime:
        """When the clock really starts: the next opening for working SLAs."""
        if self.sla.working:
            return cal.next_opening(self.started_at).astimezone(timezone.utc)
        return self.started_at.astimezone(timezone.utc)

    # -- figures ----------------------------------------------------------------------
    def total(self, cal: OfficeCalendar) -> float:
        """The stage's allowance in seconds, without pauses."""
        return self._span(cal, self.effective_start(cal), cal.due(self.started_at, self.sla))

    def due(self, cal: OfficeCalendar) -> datetime:
        """The due time in UTC, moved later by the time spent paused so far."""
        return self._shift(cal, cal.due(self.started_at, self.sla), self.paused_seconds)

    def elapsed(self, cal: OfficeCalendar, now: datetime) -> float:
        """Counted time spent in the stage up to now (pauses excluded)."""
        end = self.paused_at if self.paused_at is not None else now
        return max(0.0, self._span(cal, self.effective_start(cal), end) - self.paused_seconds)

    def remaining(self, cal: OfficeCalendar, now: datetime) -> float:
        """Counted time left until due; negative once overdue."""
        return self.total(cal) - self.elapsed(cal, now)

    def fraction_elapsed(self, cal: OfficeCalendar, now: datetime) -> float:
        total = self.total(cal)
        return self.elapsed(cal, now) / total if total > 0 else 1.0

    def threshold_at(self, cal: OfficeCalendar, fraction: float) -> datetime:
        """When `fraction` of the allowance will have elapsed, given the pauses so far."""
        return self._shift(
            cal, self.effective_start(cal), self.total(cal) * fraction + self.paused_seconds
        )

    # -- pause and resume ---------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def pause(self, now: datetime) -> "StageClock":
        return self if self.paused else replace(self, paused_at=now)

    def resume(self, cal: OfficeCalendar, now: datetime) -> "StageClock":
        if not self.paused:
            return self
        # Pauses are counted from the later of the pause and the clock's real start.
        begin = max(self.paused_at, self.effective_start(cal))
        spent = max(0.0, self._span(cal, begin, now))
        return replace(self, paused_at=None, paused_seconds=self.paused_seconds + spent)
