"""`aduan privacy`: retention, erasure on request, a citizen's own data (UU 27/2022).

What these print are counts and ticket numbers, never the personal data itself (the
terminal may be logged); only `export` writes a citizen's data, to where it is told.
"""
import json

import click

from bot import privacy as runner
from bot.cli.render import echo_table, office_time
from storage import privacy, privacy_export


@click.group("privacy")
def privacy_group():
    """Personal data: purge past retention, erase on request, export, requests."""


def _echo_counts(what: str, counts: privacy.Counts) -> None:
    click.echo(f"{what}: " + ", ".join(f"{k} {v}" for k, v in counts.summary().items()))


@privacy_group.command("purge")
@click.pass_obj
def purge(obj):
    """Anonymise every case closed more than privacy.retention_years ago (also run daily
    by the scheduler). Safe to run again: what is done is not done twice."""
    rt = obj.database()
    counts = runner.purge(rt)
    cut = runner.retention_cut(rt, rt.clock())
    _echo_counts(f"cases closed before {office_time(rt.calendar, cut)} anonymised", counts)


def _target(session, rt, ticket, address, request=None):
    """(citizen, case) named by a ticket, a CHANNEL:ID or a request's number."""
    if sum(x is not None for x in (ticket, address, request)) != 1:
        raise click.UsageError("name the citizen one way: a TICKET, --citizen CHANNEL:ID or --request N")
    if address:
        return privacy.citizen_by_address(session, address), None
    if request is not None:
        return privacy.citizen_of_request(session, request), None
    case = rt.cases.get(session, ticket)
    return case.citizen, case


@privacy_group.command("erase")
@click.argument("ticket", required=False)
@click.option("--citizen", "address", metavar="CHANNEL:ID", help="The citizen's chat, e.g. telegram:12345.")
@click.option("--request", type=int, default=None, help="A request from the chat (see `aduan privacy requests`).")
@click.option("--by", required=True, help="Who erases (recorded in the case history).")
@click.option("--reason", required=True, help="Why, e.g. 'request by chat #3' (recorded; no personal data).")
@click.option("--force", is_flag=True, help="Also erase open cases: they end closed, marked erased.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def erase(obj, ticket, address, request, by, reason, force, yes):
    """Erase a citizen's personal data now (all their cases), named by one of their
    tickets, their chat or their request from the chat. A case with no citizen (a
    walk-in) is erased alone."""
    rt = obj.database()
    with rt.sessions() as s:  # asked outside the transaction: it would hold the write lock meanwhile
        citizen, case = _target(s, rt, ticket, address, request)
        tickets = privacy.tickets_of(s, citizen, case)
    if not yes:
        click.confirm(f"Erase the personal data of the citizen of {', '.join(tickets) or 'no case'} "
                      "(names, contacts, texts, files, chats)? This cannot be undone", abort=True)
    with rt.transaction() as s:
        citizen, case = _target(s, rt, ticket, address, request)  # as it is now
        counts = privacy.erase(s, rt.cases, citizen=citizen, case=case, by=by, reason=reason, now=rt.clock(),
                               force=force)
        runner.delete_files(rt, counts)
    _echo_counts("erased", counts)


@privacy_group.command("export")
@click.option("--citizen", "address", metavar="CHANNEL:ID", help="The citizen's chat, e.g. telegram:12345.")
@click.option("--ticket", default=None, help="One of the citizen's tickets.")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="File to write (default: standard output).")
@click.pass_obj
def export(obj, address, ticket, output):
    """A citizen's own data as JSON (right of access): profile, chats, cases with the
    history they were shown, ratings, attachments' details."""
    rt = obj.database()
    with rt.sessions() as s:
        citizen, case = _target(s, rt, ticket, address)
        if citizen is None:  # a case nobody is behind any more (anonymised, or a walk-in)
            data = {"exported_at": rt.clock().isoformat(), "cases": [privacy_export.case_data(s, case)]}
        else:
            data = privacy_export.citizen_data(s, citizen, rt.clock())
    output.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@privacy_group.command("requests")
@click.pass_obj
def requests(obj):
    """Erasure requests citizens sent from the chat (/hapus) that no one has confirmed yet."""
    rt = obj.database()
    with rt.sessions() as s:
        pending = privacy.pending_requests(s)
    # The chat address is not printed: the request's number names the citizen.
    echo_table(["id", "asked", "on", "tickets", "confirm with"],
               [[r["id"], office_time(rt.calendar, r["requested_at"]), r["channel"], ", ".join(r["tickets"]) or "-",
                 f"aduan privacy erase --request {r['id']} --by NAME --reason 'request #{r['id']}'"]
                for r in pending], empty="no pending requests")


def register(main: click.Group) -> None:
    main.add_command(privacy_group)

