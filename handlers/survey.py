"""The satisfaction survey (SKM) in the chat: /survei (or the menu, or the web chat page's
/survei link) for any service user, and after a rating for a citizen whose case closed.

The service received (not asked when the case says it), the profile (four questions, one
press skips them all), the nine elements; every question may be skipped, and each answer
is written as it comes (storage.survey). One response per chat per service per office day.
Nothing of the answers goes to officers or to the log: they are counted, never shown.
"""
from __future__ import annotations

from datetime import datetime, time

from flows import skm
from flows.i18n import t
from flows.messages import Outcome, Reply
from storage import survey

STEP = "survey"
COMMANDS = ("survei", "survey")


def services(office) -> tuple[skm.Service, ...]:
    return tuple(skm.Service(c.id, c.label_id, c.label_en) for c in office.survey_services)


def begin(conversation, session, citizen, inbound, lang, now, case=None) -> tuple[dict | None, Outcome]:
    """Start the survey (`case`: the one just closed, whose service and unit it rates)."""
    office = conversation.office
    if not office.skm_survey:
        return None, Outcome([Reply(t(lang, "skm.off")), conversation.menu(lang)])
    offered = services(office)
    service = case.category if case is not None and case.category in {s.id for s in offered} else None
    ask_service = bool(offered) and service is None
    state = {"step": STEP, "keys": skm.keys(ask_service), "service": service, "rid": None,
             "case_id": case.id if case is not None else None, "unit_id": case.unit_id if case is not None else None}
    intro = Reply(t(lang, "skm.intro", office=office.name))
    if not ask_service:
        state, refused = _open(conversation, session, citizen, inbound, state, lang, now)
        if refused is not None:
            return None, Outcome([refused, conversation.menu(lang)])
    return state, Outcome([intro, skm.question(state["keys"][0], lang, offered)])


def step(conversation, session, citizen, inbound, state, lang, now) -> tuple[dict | None, Outcome]:
    """One answer."""
    offered = services(conversation.office)
    key, rest = state["keys"][0], state["keys"][1:]
    value = skm.read(key, inbound, lang, offered)
    if value is None:
        return state, Outcome([Reply(t(lang, "skm.unclear")), skm.question(key, lang, offered)])
    if key == skm.SERVICE:
        state = dict(state, service=None if value == skm.SKIP else value)
        state, refused = _open(conversation, session, citizen, inbound, state, lang, now)
        if refused is not None:
            return None, Outcome([refused, conversation.menu(lang)])
    elif value == skm.SKIP_PROFILE:
        rest = [k for k in rest if k not in skm.PROFILE]
    elif value != skm.SKIP:
        survey.record(session, state["rid"], key, value)
    state = dict(state, keys=rest)
    if not rest:
        return None, Outcome([Reply(t(lang, "skm.thanks")), conversation.menu(lang)])
    return state, Outcome([skm.question(rest[0], lang, offered)])


def _open(conversation, session, citizen, inbound, state, lang, now) -> tuple[dict, Reply | None]:
    """The row the answers go into, or why there is none (answered today; too many from
    this web chat address)."""
    office = conversation.office
    waited = []

    def may_create() -> bool:
        refused = office.survey_quota.take(inbound.channel, inbound.chat_id, inbound.origin) \
            if office.survey_quota is not None else None
        if refused is not None:
            waited.append(refused)
        return refused is None

    cal = office.calendar
    opened = survey.open_response(
        session, citizen_id=citizen.id, channel=inbound.channel, service=state["service"],
        case_id=state["case_id"], unit_id=state["unit_id"],
        day_start=datetime.combine(cal.local(now).date(), time.min, cal.tz), now=now, may_create=may_create)
    if opened == survey.LIMITED:
        return state, Reply(t(lang, "skm.limit", minutes=waited[0].minutes))
    if opened == survey.ANSWERED:
        name = next((s.label_id if lang == "id" else s.label_en for s in services(office)
                     if s.id == state["service"]), None)
        return state, Reply(t(lang, "skm.already", service=name) if name else t(lang, "skm.already_any"))
    return dict(state, rid=opened.id), None
