"""The officers' conversation: commands, case cards with action buttons, the queue.

Transition commands come from the loaded workflow (`/verifikasi`, `/disposisi`, and a
preset's own, such as bps-kaltim's `/instansi`), so a new preset needs no code; so do
the commands of its periodic duties (`/lapor_bulanan`, handlers.duties). Every case
action goes through the officer service (handlers.desk: role, unit, versions, events);
this module only turns messages into its calls and its answers into texts and buttons
(handlers.cards), with the same commands and callback data as ever.
States: idle, "await" (a note or a unit the chosen action needs), "record_source" and
the intake steps (recording a complaint on a citizen's behalf with /catat).
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from flows import intake
from flows.choices import choose
from flows.i18n import t
from flows.messages import Button, Inbound, Reply, rows
from storage import dialogs, privacy
from storage.errors import InvalidInput, NotFound
from storage.outbox import by_provider_id
from storage.models import Officer
from handlers import cards, duties, files
from handlers.desk import WALK_IN_SOURCES, Desk
from handlers.desk_views import CaseHidden, CaseNotFound, NeedsInput, NotAllowed, Stale, WalkIn
from handlers.office import Office
from handlers.signin import sign_in
from handlers.words import error_text, event_actor, label

log = logging.getLogger(__name__)
FIXED = {
    "bantuan": "help", "help": "help", "start": "help", "mulai": "help", "menu": "help",
    "antrian": "queue", "queue": "queue", "kasus": "case", "case": "case",
    "catatan": "note", "note": "note", "eskalasi": "escalate", "escalate": "escalate",
    "lapor": "lapor", "laporid": "lapor", "statistik": "stats", "stats": "stats",
    "catat": "record", "record": "record", "batal": "cancel", "cancel": "cancel",
    "petugas": "enrolled", "officer": "enrolled", "masuk": "signin", "login": "signin",
}
SOURCES = WALK_IN_SOURCES
AWAIT, RECORD_SOURCE = "await", "record_source"
FORM_STEPS = {s.value for s in intake.Step}


class OfficerConversation:
    def __init__(self, office: Office, group_chat_id: int | None = None):
        self.office = office
        self.group_chat_id = group_chat_id
        self.desk = Desk(office, group_chat_id)  # every case action goes through it

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
                return self._note(session, officer, meta["ticket"], inbound.plain_text, now)
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
            return {}, [self._queue(session, officer, page, now)]
        if what == "stats":
            return {}, [cards.statistics(self.office, self.desk.statistics(session, officer, now), lang)]
        if what == "record":
            return {"step": RECORD_SOURCE, "via": inbound.channel}, [self._source_question(lang)]
        if what is None and (duty := duties.by_command(self.office).get(name)) is not None:
            return {}, duties.done_by_chat(session, self.office, officer, duty, args, now)
        if what is None and name not in transitions:
            return {}, [Reply(t(lang, "officer.unknown_command", command=name)), self.help(officer)]
        ticket, _, rest = args.partition(" ")
        if not ticket:
            return {}, [Reply(t(lang, "officer.needs_ticket", command=name))]
        shown = ticket.upper()[:40]
        if what == "case":
            return self._card(session, officer, ticket, now, shown)
        if what == "note":
            return self._note(session, officer, ticket, rest, now, shown)
        if what == "escalate":
            return self._escalate(session, officer, ticket, rest, now, shown)
        if what == "lapor":
            return self._lapor(session, officer, ticket, rest, now, shown)
        return self._act(session, officer, ticket, transitions[name], rest.strip() or None, None, now, shown)

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

    def _refusal(self, exc: Exception, lang: str, shown: str) -> Reply:
        """Why a case action did not happen: another unit's case, none, or the reason."""
        if isinstance(exc, (CaseHidden, NotAllowed)):  # another unit's case stays closed to them
            return Reply(t(lang, "officer.not_allowed", ticket=exc.values.get("ticket", shown)))
        if isinstance(exc, CaseNotFound):
            return Reply(t(lang, "officer.not_found", ticket=shown))
        return Reply(t(lang, "officer.refused", reason=error_text(exc, lang)))

    def _card(self, session, officer, ticket, now, shown):
        try:
            view = self.desk.case(session, officer, ticket, now)
        except CaseNotFound as exc:
            return {}, [self._refusal(exc, officer.language, shown)]
        return {}, [cards.card(self.office, view, officer, officer.language)]

    def _queue(self, session, officer, page, now) -> Reply:
        return cards.queue(self.office, self.desk.queue(session, officer, "mine", page, now), officer.language)

    # -- acting on a case -------------------------------------------------------------------
    def _act(self, session, officer, ticket, trigger, arg, version, now, shown=None):
        """Fire a transition as this officer; ask for the note or unit it needs first."""
        lang = officer.language
        try:
            needs = self.desk.needs(session, officer, ticket, trigger)
            done = self.desk.act(session, officer, ticket, trigger, note=arg if needs == "note" else None,
                                 unit_code=arg if needs == "unit" else None, version=version, now=now)
        except NeedsInput as exc:
            if exc.needs == "unit":
                return {}, [Reply(t(lang, "officer.ask_unit", ticket=exc.ticket),
                                  rows(*[Button(u.name, f"u|{trigger}|{exc.ticket}|{exc.version}|{u.id}")
                                         for u in exc.units]))]
            awaited = {"ticket": exc.ticket, "trigger": trigger, "version": version}
            return ({"step": AWAIT, **awaited},
                    [Reply(t(lang, "officer.ask_note", ticket=exc.ticket, action=label(exc.action, lang)),
                           meta=awaited)])
        except Stale as exc:
            return {}, [self._moved_on(exc, lang)]
        except (InvalidInput, NotFound, NotAllowed) as exc:
            return {}, [self._refusal(exc, lang, ticket if shown is None else shown)]
        wf = self.office.cases.workflow_of(done.case)
        reply = Reply(t(lang, "officer.done", ticket=done.case.ticket, action=label(done.action, lang),
                        state=label(wf.states[done.case.state], lang)))
        return {}, [reply, cards.card(self.office, done.case, officer, lang)]

    def _moved_on(self, exc: Stale, lang) -> Reply:
        """Someone else acted first: say who, and what the case is now."""
        wf = self.desk.workflow_named(exc.workflow)
        who = event_actor(wf, exc.last, lang) if exc.last else "-"
        return Reply(t(lang, "officer.moved_on", ticket=exc.ticket, who=who,
                       state=label(wf.states[exc.state], lang)),
                     rows(Button(t(lang, "officer.button.open", ticket=exc.ticket), f"k|{exc.ticket}")))

    def _awaited(self, session, officer, inbound, state, now):
        lang = officer.language
        text = inbound.plain_text
        if not text:
            return state, [Reply(t(lang, "officer.ask_text_again"))]
        ticket, trigger = state["ticket"], state["trigger"]
        if trigger == "__note__":
            return self._note(session, officer, ticket, text, now)
        return self._act(session, officer, ticket, trigger, text, state.get("version"), now)

    def _button(self, session, officer, payload: str, now):
        lang = officer.language
        kind, _, rest = payload.partition("|")
        parts = rest.split("|")
        if kind == "k":
            return self._card(session, officer, parts[0], now, parts[0])
        if kind == files.BUTTON:  # the card's attachments: checked again, the payload can be forged
            try:
                view = self.desk.case(session, officer, parts[0], now)
            except CaseNotFound:
                return {}, [Reply(t(lang, "officer.not_allowed", ticket=parts[0][:40]))]
            return {}, files.hand_over(view.attachments, view.ticket, officer, lang)
        if kind == "q" and parts[0].isdigit():
            return {}, [self._queue(session, officer, int(parts[0]), now)]
        if kind == "n":
            try:
                self.desk.note(session, officer, parts[0], None, now)  # no text: asks for it
            except NeedsInput as exc:
                return ({"step": AWAIT, "ticket": exc.ticket, "trigger": "__note__"},
                        [Reply(t(lang, "officer.ask_internal_note", ticket=exc.ticket))])
            except CaseNotFound:
                return {}, [Reply(t(lang, "officer.not_allowed", ticket=parts[0][:40]))]
        if kind == "a" and len(parts) == 3 and parts[2].isdigit():
            return self._act(session, officer, parts[1], parts[0], None, int(parts[2]), now)
        if kind == "u" and len(parts) == 4 and parts[3].isdigit():
            unit = next((u for u in self.desk.units(session) if u.id == int(parts[3])), None)
            if unit is None:
                return {}, [Reply(t(lang, "officer.refused", reason=t(lang, "error.unit_gone")))]
            return self._act(session, officer, parts[1], parts[0], unit.code, int(parts[2]), now)
        return {}, [Reply(t(lang, "officer.hint"))]

    # -- other case commands -----------------------------------------------------------------
    def _note(self, session, officer, ticket, text, now, shown="?"):
        lang = officer.language
        try:
            self.desk.note(session, officer, ticket, text, now)
        except NeedsInput as exc:
            return ({"step": AWAIT, "ticket": exc.ticket, "trigger": "__note__"},
                    [Reply(t(lang, "officer.ask_internal_note", ticket=exc.ticket))])
        except CaseNotFound as exc:
            return {}, [self._refusal(exc, lang, shown)]
        return {}, [Reply(t(lang, "officer.note_saved", ticket=ticket.strip().upper()))]

    def _escalate(self, session, officer, ticket, reason, now, shown):
        lang = officer.language
        try:
            self.desk.escalate(session, officer, ticket, reason, now)
        except NeedsInput:
            return {}, [Reply(t(lang, "officer.needs_reason", command="eskalasi"))]
        except CaseNotFound as exc:
            return {}, [self._refusal(exc, lang, shown)]
        return {}, [Reply(t(lang, "officer.escalated", ticket=ticket.strip().upper()))]

    def _lapor(self, session, officer, ticket, tracking_id, now, shown):
        lang = officer.language
        try:
            event = self.desk.lapor_id(session, officer, ticket, tracking_id, now)
        except (CaseNotFound, NotAllowed) as exc:
            return {}, [self._refusal(exc, lang, shown)]
        except InvalidInput:
            return {}, [Reply(t(lang, "officer.lapor_usage"))]
        return {}, [Reply(t(lang, "officer.lapor_saved", ticket=ticket.strip().upper(), lapor=event.note))]

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
        walk_in = WalkIn(source=state["source"], kind=draft["kind"], text=draft["text"],
                         category=draft.get("category"), privacy=draft.get("privacy", "biasa"),
                         name=draft.get("name"), email=draft.get("email"), phone=draft.get("phone"),
                         attachments=tuple(draft.get("attachments", [])))
        try:
            view = self.desk.record_walk_in(session, officer, walk_in, now, via=state.get("via") or "officer")
        except InvalidInput as exc:
            return state, [Reply(t(lang, "officer.refused", reason=error_text(exc, lang)))]
        return {}, [Reply(t(lang, "officer.record.done", ticket=view.ticket)),
                    cards.card(self.office, view, officer, lang)]
