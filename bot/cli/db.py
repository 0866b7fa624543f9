"""`aduan db`: schema migrations."""
import click

from storage.migrate import current_revision, head_revision, upgrade


@click.group("db")
def db():
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj):
    """Create or migrate the schema to the latest revision."""
    rt = obj.runtime
    upgrade(rt.engine)
    click.echo(f"database {rt.engine.url.render_as_string()} is at revision {head_revision()}")


@db.command("current")
@click.pass_obj
def db_current(obj):
    """Show the schema revision of the database and the latest one."""
    rt = obj.runtime
    click.echo(f"database: {current_revision(rt.engine) or '(empty)'}  latest: {head_revision()}")


def register(main: click.Group) -> None:
    main.add_command(db)
