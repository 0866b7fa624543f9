"""The settings checked against the workflow they run (bot.config loads, then calls this)."""
from __future__ import annotations

from bot.config import ConfigError
from flows.errors import CalendarError, DomainError, SlaParseError
from flows.sla import parse_sla


def check_against_workflow(settings) -> None:
    """What the settings say about the workflow they run must hold in it: categories' SLAs
    name its states, survey services are its categories, the office calendar builds."""
    try:
        workflow = settings.load_workflow()
    except DomainError as exc:
        raise ConfigError(f"{settings.source}: workflow.preset: {exc}") from None
    for i, cat in enumerate(settings.categories):
        for state, text in cat.sla.items():
            if state not in workflow.states:
                raise ConfigError(f"{settings.source}: categories[{i}].sla.{state}: "
                                  f"not a state of workflow {workflow.name!r}")
            try:
                parse_sla(text)
            except SlaParseError as exc:
                raise ConfigError(f"{settings.source}: categories[{i}].sla.{state}: {exc}") from None
    known = {c.id for c in settings.effective_categories(workflow)}
    for i, service in enumerate(settings.survey.services or ()):
        if service not in known:
            raise ConfigError(f"{settings.source}: survey.services[{i}]: {service!r} is not a category "
                              f"({', '.join(sorted(known)) or 'none'})")
    try:
        settings.calendar(workflow)
    except CalendarError as exc:
        raise ConfigError(f"{settings.source}: office: {exc}") from None
