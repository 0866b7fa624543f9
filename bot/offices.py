"""Each office's settings, and finding an office from a request.

The first office's settings are the config file's. Every other office keeps its own in
its row (`aduan office add/set`): the config file's office sections (office, workflow,
categories, telegram, whatsapp, webchat, email, survey, digest), each over the file's
own, except what must be the office's alone: its Telegram bot (token, secret, officers'
group) and its WhatsApp sender number and templates. Deployment sections (database,
redis, server, intake, privacy, scheduler, inbound) are the file's for every office.
Secrets can also come from the environment: ADUAN_OFFICE_<CODE>_<SECTION>_<KEY> (the
code in capitals, '-' as '_'), e.g. ADUAN_OFFICE_KOTA_SORONG_TELEGRAM_TOKEN.
"""
from __future__ import annotations

import os

from pydantic import ValidationError

from bot.config import ConfigError, Settings
from flows.workflow import key_path

OFFICE_SECTIONS = ("office", "workflow", "categories", "telegram", "whatsapp", "webchat", "email", "survey", "digest")
OWN = {"telegram": ("token", "secret_token", "officer_group_chat_id"),
       "whatsapp": ("from_number", "templates", "messages_per_second"),
       "webchat": ("host", "title")}


def office_settings(base: Settings, code: str, own: dict) -> Settings:
    """An office's settings: its own over the config file's (see the module's docstring)."""
    unknown = sorted(set(own) - set(OFFICE_SECTIONS))
    if unknown:
        raise ConfigError(f"office {code}: {', '.join(unknown)} cannot be set per office "
                          f"(only {', '.join(OFFICE_SECTIONS)})")
    data = base.model_dump(exclude={"_source"})
    for section, keys in OWN.items():
        for key in keys:
            data[section].pop(key, None)
    if own.get("workflow", {}).get("preset", base.workflow.preset) != base.workflow.preset:
        data["categories"] = []  # the file's categories are for the file's workflow
        data["survey"]["services"] = None
    for section, value in own.items():
        if isinstance(value, dict):
            data[section] = {**data.get(section, {}), **value}
        else:
            data[section] = value
    prefix = f"ADUAN_OFFICE_{code.upper().replace('-', '_')}_"
    for section in OFFICE_SECTIONS:
        model = Settings.model_fields[section].annotation
        for key in getattr(model, "model_fields", {}):
            value = os.environ.get(f"{prefix}{section}_{key}".upper())
            if value:
                data.setdefault(section, {})[key] = value
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"office {code}: {key_path(err['loc'])}: {err['msg']}") from None
    settings._source = f"{base.source}, office {code}"
    from bot.config_workflow import check_against_workflow

    check_against_workflow(settings)
    return settings


def whatsapp_number(value: str | None) -> str | None:
    """A sender or To number as one key: E.164 without the whatsapp: prefix."""
    if not value:
        return None
    return value.removeprefix("whatsapp:").strip()
