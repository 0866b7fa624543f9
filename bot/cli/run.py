"""`aduan run`: serve Aduan with a production WSGI server (waitress)."""
import click

from bot import logs


@click.command("run")
@click.option("--host", default=None, help="Address to listen on (default: server.host).")
@click.option("--port", default=None, type=click.IntRange(1, 65535),
              help="Port (default: server.port, 8080).")
@click.option("--no-worker", is_flag=True,
              help="Do not handle messages or send the outbox in this process (run `aduan worker` "
                   "processes instead).")
@click.option("--no-scheduler", is_flag=True,
              help="Do not run the scheduler in this process (run `aduan scheduler` instead).")
@click.pass_obj
def run(obj, host, port, no_worker, no_scheduler):
    """Serve the web app (webhooks, web chat, /healthz) on server.host:server.port."""
    from waitress import serve

    from bot.app import create_app

    rt = obj.deployment()
    settings = rt.settings
    host = host or settings.server.host
    port = port or settings.server.port
    logs.setup(rt)  # INFO, with tokens and secrets redacted (bot.logs)
    app = create_app(runtime=rt)
    offices = rt.offices()
    channels = ", ".join(["webchat"] * settings.webchat.enabled + list(rt.default.senders)) or "none"
    more = f", {len(offices)} offices" if len(offices) > 1 else ""
    click.echo(f"Aduan ({rt.default.workflow.name}, {settings.source}{more}) on http://{host}:{port}/ "
               f"- database {rt.engine.url.get_backend_name()}, redis {settings.redis.url.split('@')[-1]}, "
               f"channels: {channels}")
    if not no_worker:
        rt.inbound.start()  # the embedded workers: handle what the webhooks stored,
        rt.outbound.start()  # and drain the outbox, in this process
    if not no_scheduler:
        rt.scheduler.start()  # reminders, breaches, automatic transitions
    try:
        serve(app, host=host, port=port, **waitress_options(settings))
    except (OSError, ValueError) as exc:  # port taken, address not ours
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc}") from None
    finally:
        rt.scheduler.stop()
        rt.inbound.stop()
        rt.outbound.stop()


def waitress_options(settings) -> dict:
    """How `aduan run` sets up waitress. Its default takes bodies up to 1 GiB, spooling
    them to a temporary file before the app can refuse them (a 900 MB post without the
    webhook secret grew one past 700 MB before its 403): the limit makes waitress answer
    413 from the Content-Length alone, and stop a chunked body at the limit."""
    return {"threads": settings.server.threads, "ident": "aduan",
            "max_request_body_size": settings.server.max_body_mb * 1024 * 1024}


def register(main: click.Group) -> None:
    main.add_command(run)
