"""`aduan calendar`: check the office calendar (working days, holidays, due times)."""
from datetime import datetime, timedelta, timezone

import click

from bot.cli.render import echo_table, office_time
from flows.calendar import zone_abbreviation
from flows.errors import CalendarError
from flows.sla import parse_sla
from flows.stage_clock import StageClock


@click.group("calendar")
def calendar():
    """The office calendar."""


@calendar.command("show")
@click.argument("month", metavar="YYYY-MM")
@click.pass_obj
def calendar_show(obj, month):
    """Working days, holidays and cuti bersama of a month for the configured office."""
    try:
        year, mon = (int(p) for p in month.split("-"))
    except ValueError:
        raise CalendarError(f"{month!r} is not a month; write YYYY-MM, e.g. 2025-04") from None
    cal = obj.office(obj.runtime, settings_only=True).calendar
    days = cal.month(year, mon)
    click.echo(f"{obj.office(obj.runtime, settings_only=True).settings.office.name}: {month} "
               f"({cal.timezone_name}, {zone_abbreviation(cal.timezone_name)})")
    echo_table(["date", "day", "working", "hours", "note"],
               [[d.day.isoformat(), d.day.strftime("%a"), "yes" if d.working else "no",
                 f"{d.opens:%H:%M}-{d.closes:%H:%M}" if d.working else "-", d.reason or ""]
                for d in days])
    click.echo(f"{sum(d.working for d in days)} working days")


@calendar.command("due")
@click.argument("start", metavar="START")
@click.argument("sla", metavar="SLA")
@click.pass_obj
def calendar_due(obj, start, sla):
    """When an SLA starting at START falls due.

    START is "YYYY-MM-DD HH:MM" in office time (or with an offset, e.g. +07:00);
    SLA is e.g. "3 working days", "1 working hour", "10 minutes", "5 hari kerja".
    """
    cal = obj.office(obj.runtime, settings_only=True).calendar
    try:
        at = datetime.fromisoformat(start.strip())
    except ValueError:
        raise CalendarError(f"{start!r} is not a date and time; write e.g. '2025-03-27 15:45'") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=cal.tz)
    clock = StageClock(parse_sla(sla), at)
    due = clock.due(cal)
    click.echo(f"start   {office_time(cal, at)}")
    if clock.sla.working:
        click.echo(f"counts  from {office_time(cal, clock.effective_start(cal))}")
    click.echo(f"due     {office_time(cal, due)}  ({due.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC)")
    if not clock.sla.working:
        click.echo("counted in calendar time, holidays included (write 'working days' / "
                   "'hari kerja' for office time)")
        return
    for d in _days(cal, at, due):
        if not d.working and d.day.weekday() < 5:
            click.echo(f"skipped {d.day} {d.day:%a}: {d.reason}")


def _days(cal, start, end):
    d, last = cal.local(start).date(), cal.local(end).date()
    while d <= last:
        yield cal.day(d)
        d += timedelta(days=1)


def register(main: click.Group) -> None:
    main.add_command(calendar)
