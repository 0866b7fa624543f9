from flows.calendar import OfficeCalendar
from flows.sla import parse_sla
from flows.stage_clock import StageClock
from tests.conftest import wib

CAL = OfficeCalendar("Asia/Jakarta")
HOUR = 3600.0


def clock(sla, start):
    return StageClock(parse_sla(sla), start)


def test_elapsed_and_remaining_in_working_time():
    c = clock("3 working days", wib(2025, 3, 27, 15, 45))
    # allowance: 15 min on 27 Mar + Tue 8, Wed 9 and Thu 10 Apr (8.5 h each)
    assert c.total(CAL) == 0.25 * HOUR + 3 * 8.5 * HOUR
    now = wib(2025, 4, 8, 12, 0)  # 15 min + 4.5 h later in office time
    assert c.elapsed(CAL, now) == 4.75 * HOUR
    assert c.remaining(CAL, now) == c.total(CAL) - 4.75 * HOUR
    assert c.remaining(CAL, wib(2025, 4, 11, 8, 30)) == -1 * HOUR  # an hour overdue


def test_pause_adds_the_paused_working_time_to_the_due_time():
    c = clock("3 working days", wib(2025, 3, 27, 15, 45))
    paused = c.pause(wib(2025, 4, 8, 10, 0))
    assert paused.paused and paused.elapsed(CAL, wib(2025, 4, 9, 10, 0)) == c.elapsed(CAL, wib(2025, 4, 8, 10, 0))
    resumed = paused.resume(CAL, wib(2025, 4, 9, 10, 0))  # 6 h on Tue + 2.5 h on Wed
    assert resumed.paused_seconds == 8.5 * HOUR
    # due Thu 10 Apr 16.00 + 8.5 working hours = Fri 11 Apr 16.00 (Friday is 07.30-16.30)
    assert resumed.due(CAL) == wib(2025, 4, 11, 16, 0)
    assert resumed.remaining(CAL, wib(2025, 4, 9, 10, 0)) == c.remaining(CAL, wib(2025, 4, 8, 10, 0))


def test_a_pause_outside_office_hours_costs_nothing():
    c = clock("1 working day", wib(2025, 4, 8, 9, 0))
    resumed = c.pause(wib(2025, 4, 8, 17, 0)).resume(CAL, wib(2025, 4, 9, 7, 0))
    assert resumed.paused_seconds == 0 and resumed.due(CAL) == c.due(CAL)


def test_wall_clock_stage_pauses_in_wall_clock_time():
    c = clock("7 days", wib(2025, 12, 30, 10, 0))
    resumed = c.pause(wib(2025, 12, 31, 10, 0)).resume(CAL, wib(2026, 1, 1, 22, 0))
    assert resumed.paused_seconds == 36 * HOUR
    assert resumed.due(CAL) == wib(2026, 1, 7, 22, 0)  # 6 Jan 10.00 + 36 h


def test_reminder_thresholds():
    c = clock("10 working days", wib(2025, 4, 14, 7, 30))  # Mon 14 Apr at opening
    # 85.5 office hours: 15-17 Apr (3 x 8.5), 21-24 (4 x 8.5), 25 (9), 28-29 (2 x 8.5)
    assert c.total(CAL) == 8.5 * HOUR + 85.5 * HOUR  # the start day counts from opening
    assert c.threshold_at(CAL, 1.0) == c.due(CAL) == wib(2025, 4, 29, 16, 0)
    half = c.threshold_at(CAL, 0.5)
    assert abs(c.fraction_elapsed(CAL, half) - 0.5) < 1e-9
    assert half == wib(2025, 4, 22, 7, 30) + (half - wib(2025, 4, 22, 7, 30))  # aware, WIB
    assert CAL.is_open(half)
