"""`aduan worker`: the outbound worker for production (web and workers apart)."""
import click

from bot import logs


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty (for tests and cron).")
@click.pass_obj
def worker(obj, burst):
    """Send the outbox through the providers: RQ jobs on Redis plus a sweep."""
    from bot.worker import run_worker

    rt = obj.database()
    logs.setup(rt)  # INFO, with tokens and secrets redacted (bot.logs)
    if not rt.senders:
        raise click.ClickException("no channel has credentials (telegram.token, whatsapp.account_sid...); "
                                   "nothing to send")
    click.echo(f"worker: channels {', '.join(rt.senders)}, redis {rt.settings.redis.url.split('@')[-1]}")
    run_worker(rt, burst=burst)


def register(main: click.Group) -> None:
    main.add_command(worker)
