"""`aduan cases`: list, show and export cases."""
import csv
import json

import click
from sqlalchemy import select

from bot.cli.render import clean, echo_table, office_time
from bot.reports.cells import cell
from flows.case_fields import Privacy
from storage.case_export import EXPORT_FIELDS, iter_case_records
from handlers.files import size_text
from storage.models import Attachment, utcnow
from storage.visibility import is_late


@click.group("cases")
def cases():
    """Cases: list, show, export."""


@cases.command("list")
@click.option("--state", default=None, help="Only cases in this state.")
@click.option("--overdue", is_flag=True, help="Only cases whose current stage is past due.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1))
@click.pass_obj
def cases_list(obj, state, overdue, limit):
    """List cases with their state and current due time (office time)."""
    rt = obj.database()
    wf = rt.workflow
    if state and state not in wf.states:
        raise click.ClickException(f"unknown state {state!r} (states: {', '.join(wf.states)})")
    now = utcnow()
    with rt.transaction() as s:
        rows = []
        for c in rt.cases.list(s, state=state, overdue=overdue, now=now, limit=limit):
            d = rt.cases.open_deadline(s, c)
            due = "paused" if d and d.paused_at else office_time(rt.calendar, d.due_at if d else None)
            late = "OVERDUE" if d and is_late(d, now) else ""
            rows.append([c.ticket, c.state, c.kind, c.category, c.channel,
                         office_time(rt.calendar, c.created_at), due, late])
        echo_table(["ticket", "state", "kind", "category", "channel", "created", "due", ""], rows,
                   empty="no cases")


@cases.command("show")
@click.argument("ticket")
@click.pass_obj
def cases_show(obj, ticket):
    """Show a case: details, full history and deadlines in office time."""
    rt = obj.database()
    cal = rt.calendar
    now = utcnow()
    with rt.transaction() as s:
        c = rt.cases.get(s, ticket, full=True)
        wf = rt.cases.workflow_of(c)
        state = wf.states[c.state]
        click.echo(f"{c.ticket}  {state.label_id} / {state.label_en} ({c.state})")
        reporter = "(anonim: hidden)" if c.privacy == Privacy.ANONIM else (
            c.citizen.name if c.citizen and c.citizen.name else "-")
        for label, value in [
            ("kind", c.kind), ("category", c.category), ("channel", c.channel),
            ("privacy", c.privacy), ("workflow", c.workflow),
            ("unit", f"{c.unit.code} ({c.unit.name})" if c.unit else "-"),
            ("reporter", reporter), ("SP4N-LAPOR! id", c.lapor_tracking_id),
            ("opened", office_time(cal, c.created_at)), ("closed", office_time(cal, c.closed_at)),
        ]:
            click.echo(f"  {label:<15} {clean(value)}")
        click.echo("\nText:\n  " + clean(c.text).replace("\n", "\n  "))
        click.echo("\nAttachments:")
        files = s.scalars(select(Attachment).where(Attachment.case_id == c.id).order_by(Attachment.id)).all()
        echo_table(["id", "kind", "type", "size", "from", "file"],
                   [[a.id, a.media_type, a.content_type, size_text(a.size) or None, a.channel, _where(a)]
                    for a in files])
        click.echo("\nHistory:")
        echo_table(["time", "actor", "action", "from", "to", "note"],
                   [[office_time(cal, e.at),
                     f"{e.actor_type}#{e.actor_id} ({e.actor_role})" if e.actor_id else e.actor_type,
                     e.action + ("" if e.public else " [internal]"), e.from_state, e.to_state, e.note]
                    for e in c.events], widths={5: 50})
        click.echo("\nDeadlines:")
        rows = []
        for d in c.deadlines:
            if d.completed_at:
                status = "met" if d.completed_at <= d.due_at else "missed"
                status += f", done {office_time(cal, d.completed_at)}"
            elif d.paused_at:
                status = f"paused since {office_time(cal, d.paused_at)}"
            else:
                status = "OVERDUE" if is_late(d, now) else "open"
            rows.append([d.stage, d.sla, office_time(cal, d.started_at),
                         office_time(cal, d.due_at), status])
        echo_table(["stage", "SLA", "started", "due", "status"], rows)


def _where(a: Attachment) -> str:
    """The stored copy, or why there is none."""
    if a.stored_path:
        return a.stored_path
    if a.fetch_error:
        return f"fetch failed: {a.fetch_error}"
    if a.media_type == "location":
        return a.provider_ref or "-"
    return "not fetched yet"


@cases.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl",
              show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=False), default="-",
              help="File to write (default: standard output).")
@click.pass_obj
def cases_export(obj, fmt, output):
    """Export every case with state, timestamps, current due time and events (streamed).

    The complaint text and the people's details are left out: the export is for
    SP4N-LAPOR! bookkeeping and reports, not for personal data.
    """
    rt = obj.database()
    with rt.sessions() as s:
        records = iter_case_records(s)
        if fmt == "jsonl":
            for r in records:
                output.write(json.dumps(r, ensure_ascii=False) + "\n")
            return
        writer = csv.DictWriter(output, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
        for r in records:
            row = dict(r, events=json.dumps(r["events"], ensure_ascii=False))
            writer.writerow({k: cell(v) for k, v in row.items()})  # a typed LAPOR! id stays text


def register(main: click.Group) -> None:
    from bot.cli.reject_bulk import reject_bulk

    cases.add_command(reject_bulk)
    main.add_command(cases)
