"""`aduan report`: the monthly report, the yearly evaluation report and the satisfaction index (IKM)."""
import csv
import io
from datetime import datetime, time, timedelta

import click
from sqlalchemy import select

from bot.reports.cells import rows as safe_rows
from flows.ikm import ELEMENTS, compute
from storage.models import Rating


@click.group("report")
def report():
    """Reports."""


@report.command("ikm")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day, included.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default: standard output for csv; ikm-FROM-TO.xlsx for xlsx).")
@click.pass_obj
def ikm(obj, start, end, fmt, output):
    """IKM of the SKM answers given between two days (office time): respondents, NRR per
    element, IKM, converted score and grade, as PermenPAN-RB 14/2017 computes them."""
    if end < start:
        raise click.ClickException("--to is before --from")
    rt = obj.database()
    tz = rt.calendar.tz
    lo = datetime.combine(start.date(), time.min, tz)
    hi = datetime.combine(end.date() + timedelta(days=1), time.min, tz)
    with rt.sessions() as s:
        answers = [r.skm for r in s.scalars(select(Rating).where(
            Rating.skm.is_not(None), Rating.created_at >= lo, Rating.created_at < hi))]
    result = compute(answers)
    rows = [["element", "label", "answers", "NRR", "NRR x 1/9"]]
    for key, label, _ in ELEMENTS:
        nrr = result.nrr[key]
        rows.append([key, label, result.answers[key], f"{float(nrr):.4f}" if nrr is not None else "",
                     f"{float(nrr) / 9:.4f}" if nrr is not None else ""])
    rows += [[], ["respondents", result.respondents], ["IKM", f"{float(result.index):.4f}" if result.index else "-"],
             ["converted score", str(result.score) if result.score is not None else "-"],
             ["grade", f"{result.grade} ({result.quality})" if result.grade else "-"],
             ["period", f"{start:%Y-%m-%d} .. {end:%Y-%m-%d}"]]
    rows = safe_rows(rows)  # figures and fixed labels today; safe if a typed text joins them
    if fmt == "csv":
        if output:
            with open(output, "w", newline="", encoding="utf-8") as out:
                csv.writer(out).writerows(rows)
        else:
            buffer = io.StringIO()
            csv.writer(buffer).writerows(rows)
            click.echo(buffer.getvalue(), nl=False)
        return
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "IKM"
    for row in rows:
        sheet.append(row)
    path = output or f"ikm-{start:%Y%m%d}-{end:%Y%m%d}.xlsx"
    book.save(path)
    click.echo(f"{path}: {result.respondents} respondents, score {result.score or '-'}, grade {result.grade or '-'}")


LANG = click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True,
                    help="The report's language: Indonesian labels, or English.")


@report.command("monthly")
@click.option("--month", default=None, metavar="YYYY-MM",
              help="The month, e.g. 2025-04 (default: the last full month, in office time).")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "pdf"]), default="xlsx", show_default=True)
@LANG
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: laporan-YYYY-MM.FORMAT).")
@click.pass_obj
def monthly(obj, month, fmt, lang, output):
    """The monthly report: the follow-up rate and time with their definitions, by kind,
    category, channel and state, per unit, SLA compliance per stage, escalations, ratings
    and IKM, charts, a signature block, and the cases with their SP4N-LAPOR! ids."""
    from bot.reports.monthly import last_full_month, write

    rt = obj.database()
    if month is None:
        month = last_full_month(rt.calendar, rt.clock())
    try:
        year, mon = (int(p) for p in month.split("-"))
        if not 1 <= mon <= 12 or not 2000 <= year <= 2100:
            raise ValueError
    except ValueError:
        raise click.ClickException(f"{month!r} is not a month; write YYYY-MM, e.g. 2025-04") from None
    month = f"{year:04d}-{mon:02d}"
    path = output or f"laporan-{month}.{fmt}"
    f = write(rt, month, fmt, path, lang)["figures"]
    rate = f"{100 * f.follow_up_rate:.1f}%" if f.follow_up_rate is not None else "-"
    click.echo(f"{path}: {month}, {f.total} cases, follow-up {rate}, {f.escalations} escalations")


@report.command("evaluation")
@click.option("--year", default=None, type=click.IntRange(2000, 2100),
              help="The year (default: the last full year, in office time).")
@click.option("--format", "fmt", type=click.Choice(["pdf", "xlsx", "csv"]), default="pdf", show_default=True)
@LANG
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: evaluasi-YYYY.FORMAT).")
@click.pass_obj
def evaluation(obj, year, fmt, lang, output):
    """The yearly evaluation report (seed 003, BAB VII): its eight parts, the data's part
    filled in, the person's part as labelled blanks to write in."""
    from bot.reports.evaluation import write

    rt = obj.database()
    year = year or rt.calendar.local(rt.clock()).year - 1
    path = output or f"evaluasi-{year}.{fmt}"
    f = write(rt, year, path, fmt, lang)["figures"]
    click.echo(f"{path}: {year}, {f.total} cases")


def register(main: click.Group) -> None:
    main.add_command(report)
