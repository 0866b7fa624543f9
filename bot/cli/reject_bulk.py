"""`aduan cases reject-bulk`: refuse a flood of spam with one reason, notifying no one."""
from __future__ import annotations

from datetime import datetime

import click

from bot.cli.render import echo_table, office_time
from storage.bulk import refusal, reject, select_cases
from storage.models import utcnow


@click.command("reject-bulk")
@click.argument("tickets", nargs=-1)
@click.option("--reason", required=True, help="Why (kept in each case's history).")
@click.option("--channel", default=None, help="Only cases filed on this channel (e.g. webchat).")
@click.option("--since", default=None, metavar="WHEN",
              help="Only cases filed since then, office time: 2025-04-08 or 2025-04-08T09:00.")
@click.option("--visitor", default=None, metavar="CHAT_ID",
              help="Only cases of this chat (a web chat visitor: w-<id>).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def reject_bulk(obj, tickets, reason, channel, since, visitor, yes):
    """Refuse many cases at once (spam) through the workflow's reject transition (or the
    nearest refusing one), as the admin, with one reason. Nobody is notified; each case's
    history records it. Give TICKETS, or --since and/or --visitor (with --channel)."""
    reason = reason.strip()
    if not reason:
        raise click.ClickException("--reason must say why")
    if not tickets and since is None and visitor is None:
        raise click.ClickException("name the cases: TICKETS, or --since and/or --visitor")
    rt = obj.database()
    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise click.ClickException(f"--since {since!r}: write 2025-04-08 or 2025-04-08T09:00") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=rt.calendar.tz)
    with rt.transaction() as s:
        found = select_cases(s, tickets=tickets, channel=channel, since=start, chat_id=visitor)
        if tickets and len(found) < len(set(tickets)):
            missing = sorted({x.strip().upper() for x in tickets} - {c.ticket for c in found})
            raise click.ClickException(f"no such case: {', '.join(missing)}")
        todo = [c for c in found if refusal(rt.cases.workflow_of(c), c.state) is not None]
        skipped = [c for c in found if c not in todo]
        if not todo:
            raise click.ClickException("no case to refuse" + (f" ({len(skipped)} already closed or past "
                                                               "refusing)" if skipped else ""))
        echo_table(["ticket", "state", "channel", "filed"],
                   [[c.ticket, c.state, c.channel, office_time(rt.calendar, c.created_at)] for c in todo])
        if skipped:
            click.echo(f"left alone (cannot be refused from their state): {', '.join(c.ticket for c in skipped)}")
        if not yes:
            click.confirm(f"Refuse these {len(todo)} cases with the reason {reason!r}? Nobody is notified",
                          abort=True)
        now = utcnow()
        for c in todo:
            reject(s, rt.cases, c, reason, now)
    click.echo(f"{len(todo)} cases refused")
