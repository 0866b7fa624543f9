"""`aduan officer`: invite, list and revoke officers."""
from datetime import timedelta

import click

from bot.cli.render import echo_table, office_time
from storage.models import utcnow
from storage.officers import invite, list_officers, revoke


@click.group("officer")
def officer():
    """Officers and their enrolment codes."""


@officer.command("invite")
@click.option("--role", required=True, help="A role of the workflow (see `aduan workflow show`).")
@click.option("--unit", "unit_code", default=None,
              help="The officer's unit code: required for a liaison or officer where cases go to units.")
@click.option("--name", default=None, help="A name to recognise the officer by.")
@click.option("--hours", default=72, show_default=True, type=click.IntRange(1, 24 * 30),
              help="Hours before the code expires.")
@click.pass_obj
def officer_invite(obj, role, unit_code, name, hours):
    """Make a single-use enrolment code for a new officer."""
    rt = obj.database()
    with rt.transaction() as s:
        off, code = invite(s, rt.workflow, role, unit_code, name, timedelta(hours=hours))
        expires = office_time(rt.calendar, off.enrol_expires_at)
    click.echo(f"officer #{off.id} ({role}{', unit ' + unit_code if unit_code else ''}) invited.")
    click.echo(f"enrolment code: {code}")
    click.echo(f"The officer sends `/petugas {code}` to the bot on Telegram, WhatsApp or the web "
               f"chat before {expires}. The code works once and is not shown again.")


@officer.command("list")
@click.pass_obj
def officer_list(obj):
    """List officers with role, unit and status."""
    rt = obj.database()
    now = utcnow()
    with rt.transaction() as s:
        rows = []
        for o in list_officers(s):
            if not o.active:
                status = "revoked"
            elif o.enrolled_at:
                status = "active"
            elif o.enrol_expires_at and o.enrol_expires_at < now:
                status = "code expired"
            else:
                status = "invited"
            channels = ", ".join(sorted({i.channel for i in o.identities})) or "-"
            rows.append([o.id, o.name, o.role, o.unit.code if o.unit else "-", status, channels])
        echo_table(["id", "name", "role", "unit", "status", "channels"], rows,
                   empty="no officers yet; invite one with `aduan officer invite --role ROLE`")


@officer.command("revoke")
@click.argument("officer_id", type=int)
@click.pass_obj
def officer_revoke(obj, officer_id):
    """Revoke an officer: their next command is refused."""
    rt = obj.database()
    with rt.transaction() as s:
        revoke(s, officer_id)
    click.echo(f"officer #{officer_id} revoked")


def register(main: click.Group) -> None:
    main.add_command(officer)
