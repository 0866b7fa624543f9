"""`aduan unit`: work units cases are forwarded to."""
import click

from bot.cli.render import echo_table
from storage.units import add_unit, list_units


@click.group("unit")
def unit():
    """Work units (unit kerja / OPD)."""


@unit.command("add")
@click.argument("code")
@click.argument("name")
@click.pass_obj
def unit_add(obj, code, name):
    """Add a unit with a short CODE (used in /disposisi) and a NAME."""
    rt = obj.database()
    with rt.transaction() as s:
        u = add_unit(s, code, name)
    click.echo(f"unit {u.code} added: {u.name}")


@unit.command("list")
@click.pass_obj
def unit_list(obj):
    """List the units."""
    rt = obj.database()
    with rt.transaction() as s:
        echo_table(["code", "name"], [[u.code, u.name] for u in list_units(s)],
                   empty="no units yet; add one with `aduan unit add CODE NAME`")


def register(main: click.Group) -> None:
    main.add_command(unit)
