"""Plain-text tables and office-time formatting for the command line."""
from __future__ import annotations

import sys
import textwrap
from datetime import datetime

import click

from flows.calendar import OfficeCalendar, zone_abbreviation
from flows.messages import strip_controls


def clean(value) -> str:
    """What a citizen or a provider wrote, safe for a terminal: rows stored before the
    channels stripped control characters still hold them (ESC sequences drive terminals)."""
    return strip_controls(str(value)) if value is not None else "-"


def office_time(cal: OfficeCalendar, at: datetime | None) -> str:
    if at is None:
        return "-"
    local = cal.local(at)
    return f"{local:%a %Y-%m-%d %H:%M} {zone_abbreviation(cal.timezone_name)}"


def table(headers: list[str], rows: list[list], widths: dict[int, int] | None = None) -> str:
    """Columns padded to fit; cells longer than their width (if given) wrap."""
    widths = widths or {}
    cells = [[clean(c) for c in row] for row in rows]
    wrapped = [[textwrap.wrap(c, widths[i]) or [""] if i in widths else [c]
                for i, c in enumerate(row)] for row in cells]
    size = [len(h) for h in headers]
    for row in wrapped:
        for i, lines in enumerate(row):
            size[i] = max(size[i], *(len(x) for x in lines))
    headers = [clean(h) for h in headers]
    out = ["  ".join(h.ljust(size[i]) for i, h in enumerate(headers)).rstrip(),
           "  ".join("-" * s for s in size)]
    for row in wrapped:
        for n in range(max(len(lines) for lines in row)):
            out.append("  ".join((lines[n] if n < len(lines) else "").ljust(size[i])
                                 for i, lines in enumerate(row)).rstrip())
    return "\n".join(out)


def echo_table(headers, rows, widths=None, empty: str = "(none)") -> None:
    """Print a table; long cells wrap on a terminal and stay on one line in a pipe (grep)."""
    if not sys.stdout.isatty():
        widths = None
    click.echo(table(headers, rows, widths) if rows else empty)


def chosen_month(runtime, month: str | None) -> str:
    """A report's --month as YYYY-MM: the one given (checked), else the last full month in
    office time."""
    from bot.reports.monthly import last_full_month

    if month is None:
        return last_full_month(runtime.calendar, runtime.clock())
    try:
        year, mon = (int(p) for p in month.split("-"))
        if not 1 <= mon <= 12 or not 2000 <= year <= 2100:
            raise ValueError
    except ValueError:
        raise click.ClickException(f"{month!r} is not a month; write YYYY-MM, e.g. 2025-04") from None
    return f"{year:04d}-{mon:02d}"
