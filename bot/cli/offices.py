"""`aduan office`: the offices of this deployment (add, list, show, set)."""
from __future__ import annotations

import json
import sys
import tomllib
import typing

import click
from pydantic import SecretStr

from bot.config import ConfigError, Settings
from bot.offices import OFFICE_SECTIONS, office_settings
from storage.base import FIRST_OFFICE
from storage.offices import add_office, list_offices, office_by_code, set_settings

SECRET_KEYS = {("telegram", "token"), ("telegram", "secret_token"), ("whatsapp", "auth_token"),
               ("email", "password"), ("webchat", "secret_key")}
# In an office section but one for the whole deployment: the web chat's cookie key and its
# per-browser message rate (one browser may talk to several offices).
DEPLOYMENT_KEYS = {("webchat", "secret_key"), ("webchat", "messages_per_second"), ("webchat", "message_burst")}


@click.group("office")
def office():
    """Offices: each with its own workflow, calendar, officers, cases and channels."""


def _takes_text(section: str, key: str) -> bool:
    """Is the setting text (a name, a number to send from), whatever it looks like?"""
    field = getattr(Settings.model_fields[section].annotation, "model_fields", {}).get(key)
    if field is None:
        return False
    kinds = set(typing.get_args(field.annotation) or (field.annotation,)) - {type(None)}
    return kinds == {str}


def _value(section: str, key: str, text: str):
    """A value as TOML reads it (7, true, "text", [1, 2]); bare words are text, and so is
    whatever a text setting is given (+6281..., 2025). Dates and times are kept as text."""
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    if _takes_text(section, key) and not isinstance(value, str):
        return text
    return json.loads(json.dumps(value, default=str))  # as the row's JSON will hold it


def _secret(key: str) -> str:
    """A secret from standard input: typed unseen at a terminal, else its first line."""
    if sys.stdin.isatty():
        value = click.prompt(key, hide_input=True, default="", show_default=False)
    else:
        value = sys.stdin.readline()
    value = value.strip()
    if not value:
        raise click.ClickException(f"{key}: nothing on standard input (to remove it, use --unset)")
    return value


def _checked(rt, code: str, settings: dict) -> None:
    try:
        office_settings(rt.settings, code, settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@office.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The office's name, as citizens see it.")
@click.option("--preset", default=None, help="Its workflow preset or file (default: the config file's).")
@click.option("--parent", default=None, metavar="CODE", help="The office above it (roll-up reports).")
@click.option("--timezone", default=None, help="IANA zone (default: the workflow's, else the config file's).")
@click.option("--ticket-prefix", default=None, help="2-6 capital letters (default: the config file's).")
@click.pass_obj
def add(obj, code, name, preset, parent, timezone, ticket_prefix):
    """Add an office; set its channels with `aduan office set` (tokens from standard input)."""
    rt = obj.deployment()
    settings: dict = {"office": {"name": name}}
    if preset:
        settings["workflow"] = {"preset": preset}
    if timezone:
        settings["office"]["timezone"] = timezone
    if ticket_prefix:
        settings["office"]["ticket_prefix"] = ticket_prefix
    _checked(rt, code, settings)
    with rt.transaction() as s:
        row = add_office(s, code, settings, parent=parent)
        code = row.code
    click.echo(f"office {code} added: web chat at /o/{code}/, Telegram webhook /webhooks/telegram/{code}")


@office.command("list")
@click.pass_obj
def list_(obj):
    """The offices: code, name, workflow, channels, parent."""
    rt = obj.deployment()
    with rt.sessions() as s:
        parents = {o.id: o.code for o in list_offices(s)}
    for o in rt.offices():
        channels = ", ".join(["webchat"] * o.settings.webchat.enabled + list(o.senders)) or "-"
        parent = f" (under {parents[o.parent_id]})" if o.parent_id else ""
        click.echo(f"{o.code}\t{o.settings.office.name}\t{o.workflow.name}\t{channels}{parent}")


@office.command("show")
@click.argument("code")
@click.pass_obj
def show(obj, code):
    """An office's settings as they resolve (secrets shown as set or not)."""
    rt = obj.deployment()
    found = rt.office_by_code(code)
    if found is None:
        raise click.ClickException(f"no office {code!r}")
    s = found.settings
    click.echo(f"office {found.code} (#{found.id}{', the config file' if found.id == FIRST_OFFICE else ''})")
    for section in OFFICE_SECTIONS:
        value = getattr(s, section)
        if isinstance(value, list):
            click.echo(f"{section}: {', '.join(c.id for c in value) or '(the workflow’s)'}")
            continue
        shown = value.model_dump(mode="json")  # dates as 2025-04-01
        for key, v in value.model_dump().items():
            if isinstance(v, SecretStr) or (section, key) in SECRET_KEYS:
                click.echo(f"{section}.{key} = {'(set)' if v else '(not set)'}")
            else:
                click.echo(f"{section}.{key} = {shown[key]!r}")
    prefix = "" if found.id == FIRST_OFFICE else f"/{found.code}"
    click.echo(f"webhooks: /webhooks/telegram{prefix}, /webhooks/whatsapp (To {s.whatsapp.from_number or '-'}); "
               f"web chat: {'/' if found.id == FIRST_OFFICE else f'/o/{found.code}/'}"
               + (f" and https://{s.webchat.host}/" if s.webchat.host else ""))


@office.command("set", context_settings={"ignore_unknown_options": True})  # a value may be -100123
@click.argument("code")
@click.argument("key", metavar="SECTION.KEY")
@click.argument("value", required=False)
@click.option("--unset", is_flag=True, help="Remove the office's own value (the config file's applies).")
@click.pass_obj
def set_(obj, code, key, value, unset):
    """Set one of an office's settings, e.g. `telegram.officer_group_chat_id -100123`, or
    its `categories` (a TOML list of tables). A secret (telegram.token, whatsapp.auth_token,
    ...) is read from standard input, never from the command line, where other users of the
    machine can see it. Aduan's processes read settings when they start: restart them."""
    rt = obj.deployment()
    section, _, name = key.partition(".")
    if value is not None and value.startswith("--"):
        raise click.ClickException(f"no such option: {value}")
    if unset and value is not None:
        raise click.ClickException(f"--unset takes no value ({key} {value})")
    whole = section == "categories" and not name  # a list, set as one
    if section not in OFFICE_SECTIONS or (not name and not whole) or (name and section == "categories"):
        raise click.ClickException(f"{key}: give SECTION.KEY, the section one of "
                                   f"{', '.join(s for s in OFFICE_SECTIONS if s != 'categories')}, or categories")
    if (section, name) in DEPLOYMENT_KEYS:
        raise click.ClickException(f"{key} is the same for every office: set it in the config file")
    if unset:
        new = None
    elif (section, name) in SECRET_KEYS:
        if value is not None:
            raise click.ClickException(f"{key} is a secret: give it on standard input, not as an argument")
        new = _secret(key)
    elif value is None:
        raise click.ClickException(f"give a value for {key} (or --unset)")
    else:
        new = _value(section, name, value) if name else _value(section, "", value)
    with rt.transaction() as s:
        row = office_by_code(s, code)
        if row.id == FIRST_OFFICE:
            raise click.ClickException("the first office's settings are the config file's: edit that file")
        settings = {k: dict(v) if isinstance(v, dict) else v for k, v in (row.settings or {}).items()}
        if whole:
            settings.pop(section, None)
            if not unset:
                settings[section] = new
        else:
            own = settings.setdefault(section, {})
            if unset:
                own.pop(name, None)
                if not own:
                    del settings[section]
            else:
                own[name] = new
        _checked(rt, row.code, settings)
        set_settings(s, row.code, settings)
        code = row.code
    click.echo(f"office {code}: {key} {'unset' if unset else 'set'} (restart Aduan's processes to use it)")


def register(main: click.Group) -> None:
    main.add_command(office)
