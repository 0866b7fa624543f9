"""`aduan report lapor`: the month's reports in the shape an SP4N-LAPOR! admin enters them."""
import os

import click

from bot.cli.render import chosen_month


@click.command("lapor")
@click.option("--month", default=None, metavar="YYYY-MM",
              help="The month, e.g. 2025-04 (default: the last full month, office time).")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: lapor-YYYY-MM.FORMAT).")
@click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True,
              help="Language of the headers and labels.")
@click.pass_obj
def lapor(obj, month, fmt, output, lang):
    """The reports that arrived in the month, then earlier ones whose status changed in it,
    each with the fields of SP4N-LAPOR!'s form in its order, the status to set there, the
    follow-up and the tracking id (empty: enter it; record the id with /lapor TICKET ID)."""
    from bot.reports.lapor import write

    rt = obj.database()
    month = chosen_month(rt, month)
    path = output or f"lapor-{month}.{fmt}"
    # Names, phone numbers and complaints: readable by the file's owner only, and no half
    # file left behind if the export stops (a workflow without a LAPOR! status table).
    part = f"{path}.part"
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            counts = write(rt, month, fmt, out, lang)
        os.replace(part, path)
    except BaseException:
        os.unlink(part)
        raise
    click.echo(f"{path}: {counts['rows']} reports ({counts['new']} arrived in {month}, "
               f"{counts['rows'] - counts['new']} earlier with a change), "
               f"{counts['without_id']} without an SP4N-LAPOR! tracking id")
