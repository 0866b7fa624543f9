"""`aduan unit`: work units cases are forwarded to."""
import click

from bot.cli.render import echo_table
from storage.units import add_unit, list_units, remove_unit, rename_unit


@click.group("unit")
def unit():
    """Work units (unit kerja / OPD)."""


@unit.command("add")
@click.argument("code")
@click.argument("name")
@click.pass_obj
def unit_add(obj, code, name):
    """Add a unit with a short CODE (used in /disposisi, any case) and a NAME."""
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


@unit.command("rename")
@click.argument("code")
@click.argument("new_name")
@click.pass_obj
def unit_rename(obj, code, new_name):
    """Give the unit CODE a NEW_NAME (the code, its cases and officers stay)."""
    rt = obj.database()
    with rt.transaction() as s:
        u = rename_unit(s, code, new_name)
    click.echo(f"unit {u.code} renamed: {u.name}")


@unit.command("remove")
@click.argument("code")
@click.pass_obj
def unit_remove(obj, code):
    """Remove the unit CODE; refused while it has cases or officers."""
    rt = obj.database()
    with rt.transaction() as s:
        u = remove_unit(s, code)
    click.echo(f"unit {u.code} removed")


def register(main: click.Group) -> None:
    main.add_command(unit)
