"""The officers' conversation: commands, case cards with action buttons, the queue.

Transition commands come from the loaded workflow (`/verifikasi`, `/disposisi`, and a
preset's own, such as bps-kaltim's `/instansi`), so a new preset needs no code; so do
the commands of its periodic duties (`/lapor_bulanan`, handlers.duties). Every case
action checks the officer's role and unit (storage.cases) and is a case event.
States: idle, "await" (a note or a unit the chosen action needs), "record_source" and
the intake steps (recording a complaint on a citizen's behalf with /catat).
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows import intake
from flows.case_fields import Channel
from flows.choices import choose
from flows.errors import InvalidTransition, RoleNotAllowed, UnknownAction
from flows.i18n import t
from flows.messages import Button, Inbound, Reply, rows
from storage import dialogs, privacy
from storage.cases import Actor, add_attachments
from storage.errors import Conflict, InvalidInput, NotFound
from storage.outbox import by_provider_id
from storage.models import CaseEvent, Citizen, CitizenIdentity, Officer, Unit
from handlers import duties, files, notify
from handlers.cards import card, queue, statistics, unit_ok
from handlers.office import Office
from handlers.signin import sign_in
from handlers.words import actor_name, error_text, label, officers_of

log = logging.getLogger(__name__)
FIXED = {
    "bantuan": "help", "help": "help", "start": "help", "mulai": "help", "menu": "help",
    "antrian": "queue", "queue": "queue", "kasus": "case", "case": "case",
    "catatan": "note", "note": "note", "eskalasi": "escalate", "escalate": "escalate",
    "lapor": "lapor", "laporid": "lapor", "statistik": "stats", "stats": "stats",
    "catat": "record", "record": "record", "batal": "cancel", "cancel": "cancel",
    "petugas": "enrolled", "officer": "enrolled", "masuk": "signin", "login": "signin",
}
SOURCES = (Channel.FRONT_DESK, Channel.COMPLAINT_BOX, Channel.PHONE, Channel.EMAIL, Channel.LAPOR)
AWAIT, RECORD_SOURCE = "await", "record_source"
FORM_STEPS = {s.value for s in intake.Step}


class OfficerConversation:
    def __init__(self, office: Office, group_chat_id: int | None = None):
        self.office = office
        self.group_chat_id = group_chat_id

    def commands(self) -> dict[str, str]:
        """Chat command -> workflow trigger, Indonesian and English."""
        return {c: tr.trigger for tr in self.office.workflow.transitions
                for c in (tr.command, tr.command_en) if c}

    # -- entry point ----------------------------------------------------------------------
    def handle(self, session: Session, officer: Officer, inbound: Inbound, now: datetime,
               question: Reply | None = None) -> list[Reply]:
        """One message from an officer; `question`: the choices last given, if any (a typed
        "2" was already read as its button by handlers.inbound)."""
        state = dialogs.load(session, inbound.channel, inbound.chat_id, now)
        if isinstance(state, dialogs.Expired):
            state = None
        began = (state or {}).get(dialogs.BEGAN)
        state, replies = self._route(session, officer, inbound, state or {}, now, question)
        if began and not (state or {}).get(dialogs.BEGAN):  # a /catat form ended: what it echoed goes
            privacy.forget_form(session, inbound.channel, inbound.chat_id, datetime.fromisoformat(began), now)
        dialogs.save(session, inbound.channel, inbound.chat_id, state or None, now, self.office.dialog_ttl)
        return replies

    def _route(self, session, officer, inbound, state, now, question=None):
        lang = officer.language
        step = state.get("step")
        if inbound.command:
            name, args = inbound.command
            return self._command(session, officer, inbound, name, args, now)
        if step == AWAIT and inbound.button is None:
            return self._awaited(session, officer, inbound, state, now)
        if step == RECORD_SOURCE or step in FORM_STEPS:
            return self._record(session, officer, inbound, state, now)
        if inbound.reply_to and inbound.plain_text:  # a reply to a case card or a question
            row = by_provider_id(session, inbound.channel, inbound.chat_id, inbound.reply_to)
            meta = (row.payload.get("meta") or {}) if row is not None else {}
            if meta.get("trigger"):
                return self._act(session, officer, meta["ticket"], meta["trigger"], inbound.plain_text,
                                 meta.get("version"), now)
            if meta.get("ticket"):
                return self._note(session, officer, self._case(session, meta["ticket"]), inbound.plain_text, now)
        if inbound.button:
            return self._button(session, officer, inbound.button, now)
        if question is not None and inbound.plain_text:  # an unclear answer: the same question
            return {}, [Reply(t(lang, "choice_unclear")), question]
        return {}, [Reply(t(lang, "officer.hint"))]

    # -- commands -------------------------------------------------------------------------
    def _command(self, session, officer, inbound, name, args, now):
        lang = officer.language
        what = FIXED.get(name)
        transitions = self.commands()
        if what == "cancel":
            return {}, [Reply(t(lang, "officer.cancelled"))]
        if what == "help":
            return {}, [self.help(officer)]
        if what == "enrolled":
            return {}, [Reply(t(lang, "officer.already_enrolled"))]
        if what == "signin":
            return {}, sign_in(session, self.office, officer, args, now)
        if what == "queue":
            page = int(args) - 1 if args.isdigit() and int(args) > 0 else 0
            return {}, [queue(session, self.office, officer, lang, page, now)]
        if what == "stats":
            return {}, [statistics(session, self.office, lang, now)]
        if what == "record":
            return {"step": RECORD_SOURCE, "via": inbound.channel}, [self._source_question(lang)]
        if what is None and (duty := duties.by_command(self.office).get(name)) is not None:
            return {}, duties.done_by_chat(session, self.office, officer, duty, args, now)
        if what is None and name not in transitions:
            return {}, [Reply(t(lang, "officer.unknown_command", command=name)), self.help(officer)]
        ticket, _, rest = args.partition(" ")
        if not ticket:
            return {}, [Reply(t(lang, "officer.needs_ticket", command=name))]
        case = self._case(session, ticket)
        if case is None:
            return {}, [Reply(t(lang, "officer.not_found", ticket=ticket.upper()[:40]))]
        if not unit_ok(self.office, case, officer):  # another unit's case stays closed to them
            return {}, [Reply(t(lang, "officer.not_allowed", ticket=case.ticket))]
        if what == "case":
            return {}, [card(session, self.office, case, officer, lang)]
        if what == "note":
            return self._note(session, officer, case, rest, now)
        if what == "escalate":
            return self._escalate(session, officer, case, rest, now)
        if what == "lapor":
            return self._lapor(session, officer, case, rest, now)
        return self._act(session, officer, case.ticket, transitions[name], rest.strip() or None, None, now)

    def help(self, officer: Officer) -> Reply:
        lang = officer.language
        wf = self.office.workflow
        role = wf.roles[officer.role]
        lines = [t(lang, "officer.help.head", role=role.label_id if lang == "id" else role.label_en),
                 t(lang, "officer.help.fixed")]
        for tr in wf.transitions:
            if officer.role in tr.roles and tr.command:
                arg = {"note": t(lang, "officer.help.arg_note"), "unit": t(lang, "officer.help.arg_unit")}.get(tr.needs, "")
                alias = f" (/{tr.command_en})" if tr.command_en else ""
                lines.append(f"/{tr.command}{alias} {t(lang, 'officer.help.arg_ticket')} {arg}".rstrip()
                             + f" — {tr.label_id if lang == 'id' else tr.label_en}")
        lines += duties.help_lines(self.office, officer, lang)
        if self.office.cookie_channels:
            lines.append(t(lang, "officer.help.webchat"))
        if self.office.backoffice_url is not None:
            lines.append(t(lang, "officer.help.web"))
        return Reply("\n".join(dict.fromkeys(lines)))

    def _case(self, session, ticket):
        try:
            return self.office.cases.get(session, ticket)
        except NotFound:
            return None

    # -- acting on a case -------------------------------------------------------------------
    def _act(self, session, officer, ticket, trigger, arg, version, now):
        """Fire a transition as this officer; ask for the note or unit it needs first."""
        lang = officer.language
        cases = self.office.cases
        case = self._case(session, ticket)
        if case is None:
            return {}, [Reply(t(lang, "officer.not_found", ticket=ticket))]
        wf = cases.workflow_of(case)
        may = any(officer.role in x.roles for x in wf.transitions if x.trigger == trigger)
        if not may or not unit_ok(self.office, case, officer):  # before saying anything of the case
            return {}, [Reply(t(lang, "officer.not_allowed", ticket=case.ticket))]
        if version is not None and case.version != version:  # a button from an older card
            return {}, [self._moved_on(session, case.ticket, lang, None)]
        tr = wf.transition(trigger, case.state)
        if tr is not None and officer.role in tr.roles and arg is None and tr.needs == "note":
            awaited = {"ticket": case.ticket, "trigger": trigger, "version": version}
            return ({"step": AWAIT, **awaited},
                    [Reply(t(lang, "officer.ask_note", ticket=case.ticket,
                             action=tr.label_id if lang == "id" else tr.label_en), meta=awaited)])
        if tr is not None and officer.role in tr.roles and arg is None and tr.needs == "unit":
            units = session.scalars(select(Unit).order_by(Unit.code)).all()
            return {}, [Reply(t(lang, "officer.ask_unit", ticket=case.ticket),
                              rows(*[Button(u.name, f"u|{trigger}|{case.ticket}|{case.version}|{u.id}")
                                     for u in units]))]
        try:
            with session.begin_nested():
                case = cases.fire(session, case.ticket, trigger, Actor.officer(officer),
                                  note=arg if tr is not None and tr.needs == "note" else None,
                                  unit_code=arg if tr is not None and tr.needs == "unit" else None,
                                  expected_version=version, now=now)
        except (Conflict, InvalidTransition) as exc:
            return {}, [self._moved_on(session, case.ticket, lang, exc)]
        except (RoleNotAllowed, UnknownAction):
            return {}, [Reply(t(lang, "officer.not_allowed", ticket=case.ticket))]
        except (InvalidInput, NotFound) as exc:
            return {}, [Reply(t(lang, "officer.refused", reason=error_text(exc, lang)))]
        notify.transition(session, self.office, case, tr, arg, now)
        label = wf.states[case.state]
        done = Reply(t(lang, "officer.done", ticket=case.ticket,
                       action=tr.label_id if lang == "id" else tr.label_en,
                       state=label.label_id if lang == "id" else label.label_en))
        return {}, [done, card(session, self.office, case, officer, lang)]

    def _moved_on(self, session, ticket, lang, exc) -> Reply:
        """Someone else acted first: say who, and what the case is now."""
        case = self.office.cases.get(session, ticket)
        last = session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id)
                              .order_by(CaseEvent.id.desc()).limit(1))
        wf = self.office.cases.workflow_of(case)
        who = actor_name(wf, last, officers_of(session, [last]), lang) if last else "-"
        return Reply(t(lang, "officer.moved_on", ticket=ticket, who=who,
                       state=label(wf.states[case.state], lang)),
                     rows(Button(t(lang, "officer.button.open", ticket=ticket), f"k|{ticket}")))

    def _awaited(self, session, officer, inbound, state, now):
        lang = officer.language
        text = inbound.plain_text
        if not text:
            return state, [Reply(t(lang, "officer.ask_text_again"))]
        ticket, trigger = state["ticket"], state["trigger"]
        if trigger == "__note__":
            return self._note(session, officer, self._case(session, ticket), text, now)
        return self._act(session, officer, ticket, trigger, text, state.get("version"), now)

    def _button(self, session, officer, payload: str, now):
        lang = officer.language
        kind, _, rest = payload.partition("|")
        parts = rest.split("|")
        if kind == "k":
            case = self._case(session, parts[0])
            if case is None:
                return {}, [Reply(t(lang, "officer.not_found", ticket=parts[0]))]
            if not unit_ok(self.office, case, officer):
                return {}, [Reply(t(lang, "officer.not_allowed", ticket=case.ticket))]
            return {}, [card(session, self.office, case, officer, lang)]
        if kind == files.BUTTON:  # the card's attachments: checked again, the payload can be forged
            case = self._case(session, parts[0])
            if case is None or not unit_ok(self.office, case, officer):
                return {}, [Reply(t(lang, "officer.not_allowed", ticket=parts[0][:40]))]
            return {}, files.hand_over(session, case, officer, lang)
        if kind == "q" and parts[0].isdigit():
            return {}, [queue(session, self.office, officer, lang, int(parts[0]), now)]
        if kind == "n":
            case = self._case(session, parts[0])
            if case is None or not unit_ok(self.office, case, officer):
                return {}, [Reply(t(lang, "officer.not_allowed", ticket=parts[0][:40]))]
            return ({"step": AWAIT, "ticket": case.ticket, "trigger": "__note__"},
                    [Reply(t(lang, "officer.ask_internal_note", ticket=case.ticket))])
        if kind == "a" and len(parts) == 3 and parts[2].isdigit():
            return self._act(session, officer, parts[1], parts[0], None, int(parts[2]), now)
        if kind == "u" and len(parts) == 4 and parts[3].isdigit():
            unit = session.get(Unit, int(parts[3]))
            if unit is None:
                return {}, [Reply(t(lang, "officer.refused", reason=t(lang, "error.unit_gone")))]
            return self._act(session, officer, parts[1], parts[0], unit.code, int(parts[2]), now)
        return {}, [Reply(t(lang, "officer.hint"))]

    # -- other case commands -----------------------------------------------------------------
    def _note(self, session, officer, case, text, now):
        lang = officer.language
        if case is None:
            return {}, [Reply(t(lang, "officer.not_found", ticket="?"))]
        if not unit_ok(self.office, case, officer):
            return {}, [Reply(t(lang, "officer.not_allowed", ticket=case.ticket))]
        if not text.strip():
            return ({"step": AWAIT, "ticket": case.ticket, "trigger": "__note__"},
                    [Reply(t(lang, "officer.ask_internal_note", ticket=case.ticket))])
        session.add(CaseEvent(case_id=case.id, at=now, actor_type="officer", actor_id=officer.id,
                              actor_role=officer.role, action="note", note=text.strip(), public=False))
        return {}, [Reply(t(lang, "officer.note_saved", ticket=case.ticket))]

    def _escalate(self, session, officer, case, reason, now):
        lang = officer.language
        if not reason.strip():
            return {}, [Reply(t(lang, "officer.needs_reason", command="eskalasi"))]
        case.escalated_at = now
        session.add(CaseEvent(case_id=case.id, at=now, actor_type="officer", actor_id=officer.id,
                              actor_role=officer.role, action="escalate", note=reason.strip(), public=False))
        notify.escalated(session, self.office, case, reason.strip(), now)
        return {}, [Reply(t(lang, "officer.escalated", ticket=case.ticket))]

    def _lapor(self, session, officer, case, tracking_id, now):
        lang = officer.language
        if self.office.workflow.roles[officer.role].kind != "coordinator":  # the SP4N-LAPOR! admins
            return {}, [Reply(t(lang, "officer.not_allowed", ticket=case.ticket))]
        tracking_id = tracking_id.strip()
        if not tracking_id or len(tracking_id) > 40 or " " in tracking_id:
            return {}, [Reply(t(lang, "officer.lapor_usage"))]
        case.lapor_tracking_id = tracking_id
        session.add(CaseEvent(case_id=case.id, at=now, actor_type="officer", actor_id=officer.id,
                              actor_role=officer.role, action="lapor_id", note=tracking_id, public=False))
        return {}, [Reply(t(lang, "officer.lapor_saved", ticket=case.ticket, lapor=tracking_id))]

    # -- recording a complaint that came in another way (/catat) ------------------------------
    def _source_question(self, lang) -> Reply:
        return Reply(t(lang, "officer.record.source"),
                     rows(*[Button(t(lang, f"channel.{c.value}"), f"s|{c.value}") for c in SOURCES]))

    def _rules(self) -> intake.Rules:
        base = self.office.rules("officer")
        return intake.Rules(**{**base.__dict__, "require_email": False, "name_optional": True,
                               "phone_from_channel": False})

    def _record(self, session, officer, inbound, state, now):
        lang = officer.language
        if state.get("step") == RECORD_SOURCE:
            options = [Button(t(lang, f"channel.{c.value}"), f"s|{c.value}") for c in SOURCES]
            picked = choose(inbound, options)
            if picked is None:
                return state, [Reply(t(lang, "intake.choice_unknown")), self._source_question(lang)]
            form, out = intake.begin(self._rules(), lang)
            return (dict(form, source=picked[2:], via=inbound.channel, **{dialogs.BEGAN: now.isoformat()}),
                    [Reply(t(lang, "officer.record.started"))] + out.replies[1:])
        form, out = intake.step(state, inbound, self._rules(), lang)
        for effect in out.effects:
            if isinstance(effect, intake.Cancel):
                return {}, [Reply(t(lang, "officer.cancelled"))]
            if isinstance(effect, intake.Submit):
                return self._record_submit(session, officer, state, effect.draft, now)
        return dict(form, source=state["source"], via=state.get("via"), **{dialogs.BEGAN: state.get(dialogs.BEGAN)}), \
            out.replies

    def _record_submit(self, session, officer, state, draft, now):
        lang = officer.language
        citizen = None
        if draft.get("name") or draft.get("email") or draft.get("phone"):
            citizen = Citizen(name=draft.get("name"), email=draft.get("email"), phone=draft.get("phone"),
                              language=self.office.default_language, created_at=now)
            session.add(citizen)
            if draft.get("phone") and self.office.phone_channel:
                # the citizen hears about their case on WhatsApp, if the office has it
                found = session.scalar(select(CitizenIdentity).where(
                    CitizenIdentity.channel == self.office.phone_channel,
                    CitizenIdentity.external_id == draft["phone"]))
                if found is not None:
                    citizen = found.citizen
                else:
                    session.add(CitizenIdentity(citizen=citizen, channel=self.office.phone_channel,
                                                external_id=draft["phone"]))
        try:
            with session.begin_nested():
                case = self.office.cases.open_case(
                    session, kind=draft["kind"], text=draft["text"], channel=state["source"],
                    category=draft.get("category"), privacy=draft.get("privacy", "biasa"), citizen=citizen,
                    language=citizen.language if citizen else self.office.default_language,
                    actor=Actor.officer(officer), now=now)
                add_attachments(session, case, draft.get("attachments", []), state.get("via") or "officer", now)
        except InvalidInput as exc:
            return state, [Reply(t(lang, "officer.refused", reason=error_text(exc, lang)))]
        notify.new_case(session, self.office, case, self.group_chat_id, now, recorded_by=officer.id)
        return {}, [Reply(t(lang, "officer.record.done", ticket=case.ticket)),
                    card(session, self.office, case, officer, lang)]
