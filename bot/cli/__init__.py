"""The `aduan` command line. Each module below owns and registers its own commands."""
from __future__ import annotations

import click
import sqlalchemy.exc

from bot.config import ConfigError, load_settings
from bot.office_runtime import OfficeRuntime
from bot.runtime import Runtime
from flows.errors import DomainError
from storage.errors import StorageError


class _Group(click.Group):
    """Turns the errors we raise on purpose into one clear line and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ConfigError, DomainError, StorageError) as exc:
            raise click.ClickException(str(exc)) from None
        except sqlalchemy.exc.DBAPIError as exc:
            # e.g. the database does not answer; the driver's first line says why
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise click.ClickException(f"database error: {first}") from None


class Context:
    def __init__(self, config_path: str | None, office: str | None = None):
        self.config_path, self.office_code = config_path, office
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        """The deployment, whatever the state of its database."""
        if self._runtime is None:
            self._runtime = Runtime(load_settings(self.config_path))
        return self._runtime

    def deployment(self) -> Runtime:
        """The deployment (every office: `run`, `worker`, `scheduler`), after checking the
        schema is migrated."""
        rt = self.runtime
        if not rt.schema_is_current():
            raise click.ClickException(
                f"the database at {rt.engine.url.render_as_string()} is not up to date; "
                "run `aduan db upgrade` first")
        return rt

    def database(self) -> OfficeRuntime:
        """The office the command is for: --office, else the only one there is."""
        return self.office(self.deployment())

    def office(self, rt: Runtime, settings_only: bool = False) -> OfficeRuntime:
        """The --office given, else the only office. `settings_only`: the command reads
        settings alone (no database needed), and without --office it is the first office's."""
        if settings_only and not self.office_code:
            return rt.default
        if self.office_code:
            found = rt.office_by_code(self.office_code)
            if found is None:
                codes = ", ".join(o.code for o in rt.offices())
                raise click.ClickException(f"no office {self.office_code!r} (offices: {codes})")
            return found
        offices = rt.offices()
        if len(offices) > 1:
            raise click.ClickException("this deployment has several offices; say which with --office CODE "
                                       f"({', '.join(o.code for o in offices)})")
        return rt.default


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", envvar="ADUAN_CONFIG",
              help="Config file (default: $ADUAN_CONFIG, else ./config.toml, else built-in defaults).")
@click.option("--office", "office", metavar="CODE", envvar="ADUAN_OFFICE",
              help="The office a command is for (default: the only one; see `aduan office list`).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, office: str | None):
    """Aduan: complaint intake and case handling for Indonesian public-service units."""
    ctx.obj = Context(config_path, office)
    ctx.call_on_close(lambda: ctx.obj._runtime and ctx.obj._runtime.close())


def _register() -> None:
    from bot.cli import (calendar, cases, db, duties, offices, officers, privacy, report, run, scheduler, telegram,
                         units, worker, workflows)

    for module in (db, run, worker, scheduler, offices, units, officers, cases, workflows, calendar, telegram, report,
                   duties, privacy):
        module.register(main)


_register()
