"""`aduan run`: serve Aduan with a production WSGI server (gunicorn, one worker: bot.server)."""
import click

from bot import logs


@click.command("run")
@click.option("--host", default=None, help="Address to listen on (default: server.host).")
@click.option("--port", default=None, type=click.IntRange(1, 65535),
              help="Port (default: server.port, 8080).")
@click.option("--no-worker", is_flag=True,
              help="Do not handle messages or send the outbox here (run `aduan worker` processes "
                   "instead).")
@click.option("--no-scheduler", is_flag=True,
              help="Do not run the scheduler here (run `aduan scheduler` instead).")
@click.pass_obj
def run(obj, host, port, no_worker, no_scheduler):
    """Serve the web app (webhooks, web chat, /healthz) on server.host:server.port."""
    from bot.app import create_app
    from bot.server import EmbeddedServer, listen

    rt = obj.deployment()
    settings = rt.settings
    host = host or settings.server.host
    port = port or settings.server.port
    logs.setup(rt)  # INFO, with tokens and secrets redacted (bot.logs)
    try:
        sock = listen(host, port)
    except (OSError, ValueError) as exc:  # port taken, address not ours
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc}") from None
    app = create_app(runtime=rt)
    offices = rt.offices()
    channels = ", ".join(["webchat"] * settings.webchat.enabled + list(rt.default.senders)) or "none"
    more = f", {len(offices)} offices" if len(offices) > 1 else ""
    click.echo(f"Aduan ({rt.default.workflow.name}, {settings.source}{more}) on http://{host}:{port}/ "
               f"- database {rt.engine.url.get_backend_name()}, redis {settings.redis.url.split('@')[-1]}, "
               f"channels: {channels}")
    # the loops start in the server's worker process, after its fork (bot.server)
    EmbeddedServer(app, rt, sock, threads=settings.server.threads, loops=not no_worker,
                   scheduler=not no_scheduler).run()


def register(main: click.Group) -> None:
    main.add_command(run)
