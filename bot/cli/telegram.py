"""`aduan telegram`: connect the bot to Telegram."""
import click

from bot.channels.telegram import ALLOWED_UPDATES, TelegramSender
from storage.base import FIRST_OFFICE


@click.group("telegram")
def telegram():
    """Telegram bot set-up."""


@telegram.command("set-webhook")
@click.argument("url")
@click.pass_obj
def set_webhook(obj, url):
    """Register URL (https://your.host/webhooks/telegram, or .../webhooks/telegram/CODE for
    an office after the first) with Telegram, with the office's secret token."""
    office = obj.office(obj.runtime, settings_only=True)
    cfg = office.settings.telegram
    first = office.id == FIRST_OFFICE
    if cfg.token is None or cfg.secret_token is None:
        raise click.ClickException(
            "set telegram.token and telegram.secret_token first "
            + ("(or ADUAN_TELEGRAM_TOKEN / ADUAN_TELEGRAM_SECRET_TOKEN)" if first else
               f"(`aduan office set {office.code} telegram.token`, the secret on standard input)"))
    if not url.startswith("https://") and "127.0.0.1" not in url and "localhost" not in url:
        raise click.ClickException("Telegram only calls https:// webhooks")
    if not first and not url.rstrip("/").endswith(f"/webhooks/telegram/{office.code}"):
        # another office's address would refuse this bot's updates (its secret is not theirs)
        raise click.ClickException(f"office {office.code}'s bot posts to .../webhooks/telegram/{office.code}")
    sender = TelegramSender(cfg.token.get_secret_value(), cfg.api_base_url)
    try:
        sender.set_webhook(url, cfg.secret_token.get_secret_value())
    except Exception as exc:  # the Bot API's own words are the useful part
        raise click.ClickException(f"Telegram refused: {exc}") from None
    finally:
        sender.close()
    click.echo(f"webhook set to {url} (updates: {', '.join(ALLOWED_UPDATES)})")


def register(main: click.Group) -> None:
    main.add_command(telegram)
