"""A stage's clock: due times, pauses and reminder marks, against dates counted by hand on
the 2025 calendar, and properties of the day clock over random starts and pauses."""
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.calendar import OfficeCalendar, parse_week
from flows.sla import parse_sla
from flows.stage_clock import StageClock
from tests.conftest import wib, wit

CAL = OfficeCalendar("Asia/Jakarta")  # civil service: Mon-Thu 07.30-16.00, Fri 07.30-16.30
BENGKULU = OfficeCalendar("Asia/Jakarta", parse_week({
    "mon": "08:00-15:30", "tue": "08:00-15:30", "wed": "08:00-15:30", "thu": "08:00-15:30",
    "fri": "08:00-16:00"}))
SORONG = OfficeCalendar("Asia/Jayapura")
HOUR = 3600.0


def clock(sla, start):
    return StageClock(parse_sla(sla), start)


def paused(c, *spans, cal=CAL):
    for begin, end in spans:
        c = c.pause(begin).resume(cal, end)
    return c


def test_time_left_is_office_time_until_due():
    c = clock("3 working days", wib(2025, 3, 27, 15, 45))
    assert c.due(CAL) == wib(2025, 4, 10, 16, 0)
    # Tue 8 Apr 12.00: 4 h left that day, then Wed and Thu (8.5 h each)
    assert c.remaining(CAL, wib(2025, 4, 8, 12, 0)) == 4 * HOUR + 2 * 8.5 * HOUR
    assert c.remaining(CAL, wib(2025, 4, 11, 8, 30)) == -1 * HOUR  # an hour overdue
    held = c.pause(wib(2025, 4, 8, 12, 0))
    assert held.remaining(CAL, wib(2025, 4, 9, 12, 0)) == c.remaining(CAL, wib(2025, 4, 8, 12, 0))


def test_two_whole_days_paused_move_the_due_time_two_working_days_to_a_closing_time():
    # 3 working days from Mon 10 Mar 09.00: due Thu 13 Mar 16.00. Paused all of Tue 11 and
    # Wed 12 (07.30 to 16.00): two working days, so Mon 17 Mar 16.00; 17 office hours laid
    # on Friday's 9 would have made it Mon 15.30.
    c = paused(clock("3 working days", wib(2025, 3, 10, 9, 0)), (wib(2025, 3, 11, 7, 30), wib(2025, 3, 12, 16, 0)))
    assert c.due(CAL) == wib(2025, 3, 17, 16, 0)
    assert c.threshold_at(CAL, 1.0) == c.due(CAL)


@pytest.mark.parametrize("cal, start, sla, spans, due", [
    # a whole Friday (9 hours) is one working day, not 9/8.5 of one
    (CAL, wib(2025, 3, 12, 9, 0), "3 working days", [(wib(2025, 3, 14, 7, 30), wib(2025, 3, 14, 16, 30))],
     wib(2025, 3, 18, 16, 0)),
    # 6 h on Tue and 2.5 h on Wed: one day's share, one working day later (Friday closes 16.30)
    (CAL, wib(2025, 3, 27, 15, 45), "3 working days", [(wib(2025, 4, 8, 10, 0), wib(2025, 4, 9, 10, 0))],
     wib(2025, 4, 11, 16, 30)),
    # part of a day (6 of 8.5 hours) carries the due time to the next closing time
    (CAL, wib(2025, 10, 6, 7, 33), "3 working days", [(wib(2025, 10, 7, 10, 0), wib(2025, 10, 8, 7, 30))],
     wib(2025, 10, 10, 16, 30)),
    # pauses add up: three half days (07.30-11.45) are a day and a half: two days later
    (CAL, wib(2025, 3, 10, 9, 0), "3 working days",
     [(wib(2025, 3, d, 7, 30), wib(2025, 3, d, 11, 45)) for d in (11, 12, 13)], wib(2025, 3, 17, 16, 0)),
    # the same two of them: exactly one day
    (CAL, wib(2025, 3, 10, 9, 0), "3 working days",
     [(wib(2025, 3, d, 7, 30), wib(2025, 3, d, 11, 45)) for d in (11, 12)], wib(2025, 3, 14, 16, 30)),
    # a pause on the start day costs nothing: the start day is the arrival's grace anyway
    (CAL, wib(2025, 3, 10, 9, 0), "3 working days", [(wib(2025, 3, 10, 10, 0), wib(2025, 3, 10, 15, 0))],
     wib(2025, 3, 13, 16, 0)),
    # a pause at night costs nothing
    (CAL, wib(2025, 4, 8, 9, 0), "1 working day", [(wib(2025, 4, 8, 17, 0), wib(2025, 4, 9, 7, 0))],
     wib(2025, 4, 9, 16, 0)),
    # Bengkulu's days are 7.5 and 8 hours: a whole Thursday paused is still one day
    (BENGKULU, wib(2025, 3, 10, 9, 0), "3 working days", [(wib(2025, 3, 13, 8, 0), wib(2025, 3, 13, 15, 30))],
     wib(2025, 3, 14, 16, 0)),
])
def test_paused_working_days_move_a_day_clock(cal, start, sla, spans, due):
    c = paused(clock(sla, start), *spans, cal=cal)
    assert c.due(cal) == due
    assert c.threshold_at(cal, 1.0) == due


def test_working_hours_clock_adds_the_paused_office_time():
    c = paused(clock("1 working hour", wib(2025, 4, 8, 15, 30)), (wib(2025, 4, 8, 15, 45), wib(2025, 4, 9, 8, 0)))
    assert c.paused_seconds == 0.25 * HOUR + 0.5 * HOUR  # 15.45-16.00 and 07.30-08.00
    assert c.due(CAL) == wib(2025, 4, 9, 7, 30) + timedelta(minutes=30 + 45)


def test_wall_clock_stage_pauses_in_wall_clock_time():
    c = paused(clock("7 days", wib(2025, 12, 30, 10, 0)), (wib(2025, 12, 31, 10, 0), wib(2026, 1, 1, 22, 0)))
    assert c.paused_seconds == 36 * HOUR
    assert c.due(CAL) == wib(2026, 1, 7, 22, 0)  # 6 Jan 10.00 + 36 h


def test_reminder_thresholds_of_a_day_clock_count_working_days():
    c = clock("10 working days", wib(2025, 4, 14, 7, 30))  # Mon 14 Apr at opening
    assert c.threshold_at(CAL, 1.0) == c.due(CAL) == wib(2025, 4, 29, 16, 0)
    # half: the fifth working day after Monday (Good Friday 18 Apr skipped) at its closing
    assert c.threshold_at(CAL, 0.5) == wib(2025, 4, 22, 16, 0)
    assert c.fraction_elapsed(CAL, wib(2025, 4, 22, 16, 0)) == 0.5
    assert c.fraction_elapsed(CAL, wib(2025, 4, 14, 12, 0)) == 0  # the start day is grace


def test_reminder_thresholds_of_an_hours_clock_count_office_time():
    c = clock("1 working hour", wib(2025, 4, 8, 15, 30))
    assert c.threshold_at(CAL, 0.5) == wib(2025, 4, 8, 16, 0)
    assert c.threshold_at(CAL, 1.0) == c.due(CAL) == wib(2025, 4, 9, 8, 0)


# -- properties of the day clock ------------------------------------------------------------
CALENDARS = st.sampled_from([CAL, BENGKULU, SORONG])
STARTS = st.builds(lambda d, m: wit(2025, 1, 2, 0, 0) + timedelta(days=d, minutes=m),
                   st.integers(0, 300), st.integers(0, 24 * 60 - 1))


def is_closing_time(cal, at):
    local = cal.local(at)
    day = cal.day(local.date())
    return day.working and local.time() == day.closes and local.second == 0 and local.microsecond == 0


@st.composite
def pauses(draw, start):
    """Up to three pauses after `start`, in order, each of up to 12 days."""
    spans, at = [], start
    for _ in range(draw(st.integers(0, 3))):
        begin = at + timedelta(minutes=draw(st.integers(0, 10 * 24 * 60)))
        at = begin + timedelta(minutes=draw(st.integers(0, 12 * 24 * 60)))
        spans.append((begin, at))
    return spans


@settings(max_examples=150, deadline=None)
@given(CALENDARS, STARTS, st.integers(1, 20), st.data())
def test_a_day_clock_is_always_due_at_a_closing_time(cal, start, n, data):
    c = paused(clock(f"{n} working days", start), *data.draw(pauses(start)), cal=cal)
    due = c.due(cal)
    assert is_closing_time(cal, due)
    assert c.threshold_at(cal, 1.0) == due
    assert due >= clock(f"{n} working days", start).due(cal)  # pauses never shorten it
    for k in range(1, n):  # a range's lower bound k of n falls on a closing time too
        assert is_closing_time(cal, c.threshold_at(cal, k / n))


@settings(max_examples=100, deadline=None)
@given(CALENDARS, STARTS, st.integers(1, 20), st.integers(1, 5), st.integers(0, 15))
def test_k_whole_working_days_paused_move_the_due_time_by_k_working_days(cal, start, n, k, later):
    first = cal.next_working_day(cal.start_day(start) + timedelta(days=later))
    last = first
    for _ in range(k - 1):
        last = cal.next_working_day(last)
    begin = datetime.combine(first, cal.day(first).opens, cal.tz)  # from an opening
    end = datetime.combine(last, cal.day(last).closes, cal.tz)  # to a closing, k days on
    c = clock(f"{n} working days", start)
    day = cal.local(c.due(cal)).date()
    for _ in range(k):
        day = cal.next_working_day(day)
    moved = paused(c, (begin, end), cal=cal).due(cal)
    assert moved == datetime.combine(day, cal.day(day).closes, cal.tz)  # k working days on, at closing


@settings(max_examples=100, deadline=None)
@given(CALENDARS, STARTS, st.integers(1, 20), st.data())
def test_a_longer_pause_never_makes_a_day_clock_due_earlier(cal, start, n, data):
    begin = start + timedelta(minutes=data.draw(st.integers(0, 20 * 24 * 60)))
    short = begin + timedelta(minutes=data.draw(st.integers(0, 10 * 24 * 60)))
    long = short + timedelta(minutes=data.draw(st.integers(0, 10 * 24 * 60)))
    c = clock(f"{n} working days", start)
    assert paused(c, (begin, short), cal=cal).due(cal) <= paused(c, (begin, long), cal=cal).due(cal)
