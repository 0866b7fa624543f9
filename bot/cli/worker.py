"""`aduan worker`: the workers for production (web and workers apart): inbound messages
handled in order per chat, and the outbox sent."""
import click

from bot import logs


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty (for tests and cron).")
@click.option("--no-inbound", is_flag=True, help="Only send the outbox; handle no inbound messages.")
@click.pass_obj
def worker(obj, burst, no_inbound):
    """Handle the stored inbound messages (in order per chat) and send the outbox through
    the providers (RQ jobs on Redis plus a sweep). Run as many as the load needs."""
    from bot.worker import run_worker

    rt = obj.deployment()
    logs.setup(rt)  # INFO, with tokens and secrets redacted (bot.logs)
    senders = {c for by_channel in rt.senders_by_office().values() for c in by_channel}
    if not senders and no_inbound:
        raise click.ClickException("no channel has credentials (telegram.token, whatsapp.account_sid...); "
                                   "nothing to send")
    click.echo(f"worker: {'' if no_inbound else 'inbound, '}channels {', '.join(sorted(senders)) or 'none'}, "
               f"redis {rt.settings.redis.url.split('@')[-1]}")
    run_worker(rt, burst=burst, inbound=not no_inbound)


def register(main: click.Group) -> None:
    main.add_command(worker)
