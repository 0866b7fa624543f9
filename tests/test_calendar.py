"""The working-day clock against dates written by hand from the 2025 holiday decree."""
from bisect import bisect_right
from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.calendar import OfficeCalendar, parse_week, zone_abbreviation
from flows.errors import CalendarError
from flows.sla import parse_sla
from tests.conftest import wib, wit, wita

JAKARTA = OfficeCalendar("Asia/Jakarta")
BENGKULU = OfficeCalendar("Asia/Jakarta", parse_week({
    "mon": "08:00-15:30", "tue": "08:00-15:30", "wed": "08:00-15:30", "thu": "08:00-15:30",
    "fri": "08:00-16:00"}))
BALIKPAPAN = OfficeCalendar("Asia/Makassar")
SORONG = OfficeCalendar("Asia/Jayapura")


def due(cal, start, sla):
    return cal.due(start, parse_sla(sla)).astimezone(cal.tz)


def test_three_working_days_across_nyepi_and_idul_fitri():
    # Skips Fri 28 Mar (cuti bersama Nyepi), Mon 31 Mar + Tue 1 Apr (Idul Fitri) and
    # 2, 3, 4, 7 Apr (cuti bersama Idul Fitri): Tue 8, Wed 9, Thu 10 April.
    assert due(JAKARTA, wib(2025, 3, 27, 15, 45), "3 working days") == wib(2025, 4, 10, 16, 0)


@pytest.mark.parametrize("d, working, reason", [
    (date(2025, 3, 28), False, "Cuti Bersama Hari Suci Nyepi"),
    (date(2025, 3, 31), False, "Hari Raya Idul Fitri"),
    (date(2025, 4, 7), False, "Cuti Bersama Hari Raya Idul Fitri"),
    (date(2025, 4, 8), True, None),
    (date(2025, 4, 12), False, "akhir pekan"),
    (date(2025, 12, 26), False, "Cuti Bersama Hari Raya Natal"),
])
def test_days(d, working, reason):
    day = JAKARTA.day(d)
    assert (day.working, day.reason) == (working, reason)


@pytest.mark.parametrize("start, sla, expected", [
    # arriving after closing: the clock starts at the next opening, that day is the start day
    (wib(2025, 4, 8, 16, 30), "1 working day", wib(2025, 4, 10, 16, 0)),
    # arriving before opening on a working day: that day is the start day
    (wib(2025, 4, 8, 6, 0), "1 working day", wib(2025, 4, 9, 16, 0)),
    # a Saturday arrival starts Monday
    (wib(2025, 4, 12, 10, 0), "1 working day", wib(2025, 4, 15, 16, 0)),
    # Friday closes at 16.30
    (wib(2025, 4, 10, 9, 0), "1 working day", wib(2025, 4, 11, 16, 30)),
    # working hours roll over closing time into the next opening
    (wib(2025, 4, 9, 15, 30), "1 working hour", wib(2025, 4, 10, 8, 0)),
    (wib(2025, 3, 27, 15, 45), "1 working hour", wib(2025, 4, 8, 8, 15)),
    (wib(2025, 4, 9, 15, 0), "1 working hour", wib(2025, 4, 9, 16, 0)),
    (wib(2025, 4, 9, 20, 0), "5 working minutes", wib(2025, 4, 10, 7, 35)),
    # wall-clock SLAs ignore office hours and holidays
    (wib(2025, 3, 27, 15, 45), "10 minutes", wib(2025, 3, 27, 15, 55)),
    (wib(2025, 3, 27, 15, 45), "5 days", wib(2025, 4, 1, 15, 45)),
    (wib(2025, 3, 27, 23, 0), "2 hours", wib(2025, 3, 28, 1, 0)),
    # 60 working days from the Nyepi example: 11 July 2025 (May and June holidays skipped)
    (wib(2025, 3, 27, 15, 45), "60 working days", wib(2025, 7, 11, 16, 30)),
])
def test_due_times(start, sla, expected):
    assert due(JAKARTA, start, sla) == expected


def test_the_same_utc_instant_in_three_zones():
    instant = datetime(2025, 3, 27, 8, 45, tzinfo=timezone.utc)
    # 15.45 WIB in Bengkulu is after its 15.30 closing: start day Tue 8 April (the first
    # working day after Nyepi and Idul Fitri leave), due Fri 11 April at its 16.00 closing.
    assert due(BENGKULU, instant, "3 working days") == wib(2025, 4, 11, 16, 0)
    # 16.45 WITA in Balikpapan and 17.45 WIT in Sorong are after 16.00 as well.
    assert due(BALIKPAPAN, instant, "3 working days") == wita(2025, 4, 11, 16, 30)
    assert due(SORONG, instant, "3 working days") == wit(2025, 4, 11, 16, 30)
    # ... while 15.45 WIB in Jakarta is still open: the example above.
    assert due(JAKARTA, instant, "3 working days") == wib(2025, 4, 10, 16, 0)
    assert [BENGKULU.is_open(instant), BALIKPAPAN.is_open(instant), JAKARTA.is_open(instant)] \
        == [False, False, True]


def test_due_times_are_utc():
    d = JAKARTA.due(wib(2025, 3, 27, 15, 45), parse_sla("3 working days"))
    assert d.tzinfo == timezone.utc and d == datetime(2025, 4, 10, 9, 0, tzinfo=timezone.utc)


def test_extra_days_off_from_config():
    cal = OfficeCalendar("Asia/Jakarta", None, {date(2025, 4, 8): "HUT Kantor"})
    assert cal.day(date(2025, 4, 8)).reason == "HUT Kantor"
    assert due(cal, wib(2025, 3, 27, 15, 45), "3 working days") == wib(2025, 4, 11, 16, 30)


def test_next_opening():
    assert JAKARTA.next_opening(wib(2025, 3, 27, 15, 45)) == wib(2025, 3, 27, 15, 45)
    assert JAKARTA.next_opening(wib(2025, 3, 27, 16, 0)) == wib(2025, 4, 8, 7, 30)
    assert JAKARTA.next_opening(wib(2025, 4, 8, 5, 0)) == wib(2025, 4, 8, 7, 30)


def test_working_seconds_between():
    # Thu 27 Mar 15.45 -> Tue 8 Apr 08.15: 15 minutes + 45 minutes of office time
    assert JAKARTA.working_seconds(wib(2025, 3, 27, 15, 45), wib(2025, 4, 8, 8, 15)) == 3600
    assert JAKARTA.working_seconds(wib(2025, 4, 8, 8, 15), wib(2025, 3, 27, 15, 45)) == -3600
    # a whole Friday is 9 hours
    assert JAKARTA.working_seconds(wib(2025, 4, 11, 0, 0), wib(2025, 4, 12, 0, 0)) == 9 * 3600


def test_working_days_between():
    assert JAKARTA.working_days_between(wib(2025, 3, 27, 15, 45), wib(2025, 4, 10, 16, 0)) == 3


AMSTERDAM = OfficeCalendar("Europe/Amsterdam")  # summer time starts 30 Mar, ends 26 Oct 2025


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([JAKARTA, BENGKULU, SORONG, AMSTERDAM]), st.data())
def test_instants_between_two_cuts_count_alike(cal, data):
    """What reports rely on to count instants by interval (storage.reporting)."""
    cuts = cal.cuts(datetime(2025, 3, 1, tzinfo=timezone.utc), datetime(2025, 11, 30, tzinfo=timezone.utc))
    near_a_cut = st.builds(lambda i, d: cuts[i] + d, st.integers(1, len(cuts) - 1),
                           st.timedeltas(-timedelta(seconds=1), timedelta(seconds=1)))
    opened, answered = data.draw(near_a_cut), data.draw(near_a_cut)

    def stand_in(at):
        return cuts[bisect_right(cuts, at) - 1]
    assert cal.working_days_between(opened, answered) == \
        cal.working_days_between(stand_in(opened), stand_in(answered))


def test_weeks_begin_at_the_local_monday_midnight():
    weeks = SORONG.weeks(wit(2025, 4, 1), wit(2025, 5, 1))
    assert [m for m, _ in weeks] == [date(2025, 3, 31), date(2025, 4, 7), date(2025, 4, 14), date(2025, 4, 21),
                                     date(2025, 4, 28)]
    assert weeks[1][1] == datetime(2025, 4, 6, 15, 0, tzinfo=timezone.utc)  # 00:00 WIT is 15:00 UTC


def test_april_2025_has_16_working_days():
    days = JAKARTA.month(2025, 4)
    assert len(days) == 30
    # 22 weekdays less 1 Apr (Idul Fitri), 2, 3, 4 and 7 Apr (cuti bersama), 18 Apr (Good Friday)
    assert sum(d.working for d in days) == 16


@pytest.mark.parametrize("make, message", [
    (lambda: JAKARTA.day(date(2101, 1, 3)), "no Indonesian holiday data for 2101"),
    (lambda: JAKARTA.local(datetime(2025, 1, 1)), "has no time zone"),
    (lambda: OfficeCalendar("Asia/Jakrta"), "unknown time zone 'Asia/Jakrta'"),
    (lambda: JAKARTA.month(2025, 13), "month 13"),
    (lambda: parse_week({"mon": "16:00-08:00"}), "mon: office hours"),
    (lambda: parse_week({"monday": "08:00-16:00"}), "'monday' is not a weekday"),
    (lambda: parse_week({"sat": "closed"}), "open on no weekday"),
])
def test_what_the_calendar_cannot_place(make, message):
    with pytest.raises(CalendarError, match=message):
        make()


def test_hours_accept_the_indonesian_dot():
    assert parse_week({"mon": "08.00-15.30"}) == {0: (time(8, 0), time(15, 30))}


def test_zone_names():
    assert [zone_abbreviation(z) for z in ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")] \
        == ["WIB", "WITA", "WIT"]
