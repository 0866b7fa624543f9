"""`aduan scheduler`: reminders, breaches, escalation and automatic transitions."""
import logging

import click


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run one tick and stop (for cron or a check).")
@click.pass_obj
def scheduler(obj, once):
    """Keep every case on its clock: a tick every scheduler.tick_seconds. Any number may
    run; one acts at a time."""
    rt = obj.database()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if once:
        done = rt.scheduler.tick()
        click.echo(f"reminders {done['reminders']}, breaches {done['breaches']}, periodic jobs {done['periodic']}")
        return
    rt.scheduler.run()


def register(main: click.Group) -> None:
    main.add_command(scheduler)
