"""`aduan report`: the satisfaction index (IKM), the monthly and the yearly reports."""
import io

import click

from bot.cli.render import chosen_month


@click.group("report")
def report():
    """Reports."""


@report.command("ikm")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day, included.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "pdf"]), default="csv", show_default=True)
@click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True,
              help="The report's language.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default: standard output for csv; ikm-FROM-TO.xlsx/.pdf otherwise).")
@click.pass_obj
def ikm(obj, start, end, fmt, lang, output):
    """The SKM report of the answers given between two days (office time), in the tables of
    PermenPAN-RB 14/2017: per element the answers, NRR and NRR x 1/9; the IKM, its converted
    score and the service quality; the respondents' profile; the IKM per service and per unit."""
    from bot.reports.ikm import write

    if end < start:
        raise click.ClickException("--to is before --from")
    rt = obj.database()
    if fmt == "csv" and not output:
        out = io.BytesIO()
        write(rt, start.date(), end.date(), fmt, out, lang)
        click.echo(out.getvalue().decode("utf-8"), nl=False)
        return
    path = output or f"ikm-{start:%Y%m%d}-{end:%Y%m%d}.{fmt}"
    result = write(rt, start.date(), end.date(), fmt, path, lang)
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
@click.option("--with-children", is_flag=True,
              help="Add a table of the offices under this one (`aduan office add --parent`), one row each.")
@click.pass_obj
def monthly(obj, month, fmt, lang, output, with_children):
    """The monthly report: the follow-up rate and time with their definitions, by kind,
    category, channel and state, per unit, SLA compliance per stage, escalations, ratings
    and IKM, charts, a signature block, and the cases with their SP4N-LAPOR! ids."""
    from bot.reports.monthly import write
    from bot.reports.rollup import children_of

    rt = obj.database()
    under = children_of(rt) if with_children else []
    if with_children and not under:
        raise click.ClickException(f"no office is under office {rt.code} "
                                   f"(add one with `aduan office add CODE --name NAME --parent {rt.code}`)")
    month = chosen_month(rt, month)
    path = output or f"laporan-{month}.{fmt}"
    f = write(rt, month, fmt, path, lang, with_children=with_children)["figures"]
    rate = f"{100 * f.follow_up_rate:.1f}%" if f.follow_up_rate is not None else "-"
    offices = f", and {len(under)} office(s) under it: {', '.join(o.code for o in under)}" if under else ""
    click.echo(f"{path}: {month}, {f.total} cases, follow-up {rate}, {f.escalations} escalations{offices}")


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


from bot.cli.report_lapor import lapor as _lapor  # noqa: E402 (its own module; joins the group here)

report.add_command(_lapor)
