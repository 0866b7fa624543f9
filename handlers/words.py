"""Names people understand for what the workflow and the audit trail store as ids.

A state id ("received"), a trigger ("verify"), an actor ("admin#1") mean nothing to an
officer or a citizen; cards, history lines, notices and errors show the state's label,
the transition's label and the officer's name with their role's label.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.i18n import t
from flows.messages import Button, rows
from flows.workflow import Workflow
from storage.errors import StorageError
from storage.models import CaseEvent, Officer

# Audit-trail actions that are not transitions, by who reads the history.
_ACTIONS = {"open": "history.open", "citizen_info": "history.citizen_info"}
_OFFICER_ACTIONS = {"open": "history.officer.open", "citizen_info": "history.officer.citizen_info",
                    "info": "history.officer.info", "note": "history.officer.note",
                    "escalate": "history.officer.escalate", "lapor_id": "history.officer.lapor_id"}


def label(obj, lang: str) -> str:
    """The label of a state, transition or role in `lang`."""
    return obj.label_id if lang == "id" else obj.label_en


def state_label(wf: Workflow, state: str | None, lang: str) -> str:
    return label(wf.states[state], lang) if state in wf.states else (state or "-")


def action_label(wf: Workflow, event: CaseEvent, lang: str, *, officer_view: bool) -> str:
    """"Verifikasi", "Pengaduan diterima": what the event did, for this reader."""
    keys = _OFFICER_ACTIONS if officer_view else _ACTIONS
    if event.action in keys:
        return t(lang, keys[event.action])
    tr = wf.transition(event.action, event.from_state) if event.from_state else None
    if tr is not None:
        return label(tr, lang)
    return event.action  # an action of a newer version: its name beats nothing


def officers_of(session: Session, events) -> dict[int, Officer]:
    """The officers behind a batch of events, in one query."""
    ids = {e.actor_id for e in events if e.actor_type == "officer" and e.actor_id}
    if not ids:
        return {}
    return {o.id: o for o in session.scalars(select(Officer).where(Officer.id.in_(ids)))}


def officer_name(wf: Workflow, officer: Officer | None, role: str | None, lang: str,
                 officer_id: int | None = None) -> str:
    """"Budi (Admin Instansi)"; without a name, the officer's number and role."""
    return named_officer(wf, officer.name if officer is not None else None, role, lang, officer_id)


def named_officer(wf: Workflow, name: str | None, role: str | None, lang: str, officer_id: int | None) -> str:
    role_label = label(wf.roles[role], lang) if role in wf.roles else (role or "-")
    if name:
        return t(lang, "who.officer", name=name, role=role_label)
    return t(lang, "who.officer_unnamed", id=officer_id if officer_id is not None else "?", role=role_label)


def actor_name(wf: Workflow, event: CaseEvent, officers: dict[int, Officer], lang: str) -> str:
    """Who made a stored event, for officers (`officers`: officers_of the events)."""
    if event.actor_type == "officer":
        return officer_name(wf, officers.get(event.actor_id), event.actor_role, lang, event.actor_id)
    return t(lang, "who.system" if event.actor_type == "system" else "who.citizen")


def event_actor(wf: Workflow, event, lang: str) -> str:
    """Who made an event (a handlers.desk_views.EventView), for officers: an officer's name
    and role, the citizen, the system."""
    if event.actor_type == "officer":
        return named_officer(wf, event.officer_name, event.actor_role, lang, event.actor_id)
    return t(lang, "who.system" if event.actor_type == "system" else "who.citizen")


def error_text(exc: StorageError, lang: str) -> str:
    """A storage error in the reader's language (its English message if it has no key)."""
    return t(lang, exc.key, **exc.values) if exc.key else str(exc)


def verdict_buttons(lang: str, ticket: str) -> tuple:
    """The citizen's two answers to "is your problem solved?" about one case."""
    return rows(Button(t(lang, "button.solved"), f"c|accept|{ticket}"),
                Button(t(lang, "button.unsolved"), f"c|not_resolved|{ticket}"))
