"""`aduan scheduler`: reminders, breaches, escalation and automatic transitions."""
import click

from bot import logs


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run one tick and stop (for cron or a check).")
@click.pass_obj
def scheduler(obj, once):
    """Keep every case on its clock: a tick every scheduler.tick_seconds. Any number may
    run; one acts at a time."""
    rt = obj.deployment()
    logs.setup(rt)  # INFO, with tokens and secrets redacted (bot.logs)
    if once:
        done = rt.scheduler.tick()
        click.echo(f"duties opened {done['duties']}, reminders {done['reminders']}, breaches {done['breaches']}, "
                   f"periodic jobs {done['periodic']}")
        return
    rt.scheduler.run()


def register(main: click.Group) -> None:
    main.add_command(scheduler)
