"""The citizen's conversation, written once for every channel.

States (kept in the `dialogs` table): consent -> menu -> the complaint form (steps of
flows.intake) -> menu; "adding" while the citizen sends more information for a case.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows import intake
from flows.choices import choose
from flows.i18n import LANGUAGES, language, t, when
from flows.messages import Button, Inbound, Outcome, Reply, rows
from storage import access, dialogs, privacy
from storage.cases import CITIZEN, add_attachments
from storage.citizens import identity_for
from storage.errors import InvalidInput, NotFound
from storage.models import Case, Citizen, Rating
from handlers import erasure, notify, rating, survey
from handlers.office import Office
from handlers.status import case_detail, case_list
from handlers.words import error_text

log = logging.getLogger(__name__)
CONSENT, MENU, ADDING, UNSOLVED = "consent", "menu", "adding", "unsolved"
FORM_STEPS = {s.value for s in intake.Step}
CANCEL = ("batal", "cancel")
START = ("start", "mulai", "menu")
HELP = ("bantuan", "help")
LANGUAGE = ("bahasa", "language")
FILE = ("aduan", "complaint", "pengaduan")
STATUS = ("status",)
ADD = ("tambah", "add")
INFO = ("info",)
OFFICER = ("petugas", "officer")
SURVEY = survey.COMMANDS


def _has_content(inbound: Inbound) -> bool:
    """Text or a real file: a sticker or a shared contact is not information."""
    return bool(inbound.plain_text or any(a.kind in intake.MEDIA for a in inbound.attachments))


class CitizenConversation:
    def __init__(self, office: Office, group_chat_id: int | None = None):
        self.office = office
        self.group_chat_id = group_chat_id

    # -- entry point ----------------------------------------------------------------------
    def handle(self, session: Session, inbound: Inbound, now: datetime,
               question: Reply | None = None) -> list[Reply]:
        """One inbound message -> replies; every change goes into `session`'s transaction.
        `question`: the choices this chat was last given, asked again when the answer is
        unclear."""
        identity = identity_for(session, inbound.channel, inbound.chat_id,
                                language=language(inbound.language_hint) if inbound.language_hint
                                else self.office.default_language, now=now)
        if inbound.event == "blocked":
            identity.blocked_at = now  # the citizen blocked the bot: stop sending
            return []
        identity.blocked_at = None
        if inbound.event == "unblocked":
            return []
        identity.last_inbound_at = now
        citizen = identity.citizen
        state = dialogs.load(session, inbound.channel, inbound.chat_id, now)
        notes = []
        if isinstance(state, dialogs.Expired):
            if state.step in FORM_STEPS:  # only a half-filled complaint is worth a word
                hours = int(self.office.dialog_ttl.total_seconds() // 3600)
                notes.append(Reply(t(citizen.language, "expired", hours=hours)))
            state = question = None  # its question went with it (and its text was just cleared)
        lang = citizen.language if citizen.language in LANGUAGES else self.office.default_language
        state, out = self._route(session, citizen, inbound, state, lang, now, question)
        dialogs.save(session, inbound.channel, inbound.chat_id, state, now, self.office.dialog_ttl)
        return notes + out.replies

    def _route(self, session, citizen: Citizen, inbound: Inbound, state, lang, now, question=None):
        command = inbound.command
        step = (state or {}).get("step", MENU)
        if command and command[0] in CANCEL:
            self._forget_form(session, inbound, state, now)
            return None, Outcome([Reply(t(lang, "cancelled")), self.menu(lang)])
        if command and command[0] in LANGUAGE:
            return self._switch_language(citizen, state, lang)
        if citizen.consent_at is None:
            return self._consent(session, citizen, inbound, state, lang, now)
        if command:
            return self._command(session, citizen, inbound, state, lang, now, *command)
        if inbound.button and inbound.button.startswith("c|"):
            return self._case_button(session, citizen, inbound.button, state, lang, now)
        if step == erasure.STEP:
            return erasure.step(self, session, citizen, inbound, state, lang, now)
        if step == UNSOLVED:
            return self._unsolved(session, citizen, inbound, state, lang, now)
        if step == survey.STEP:
            return survey.step(self, session, citizen, inbound, state, lang, now)
        if step in rating.STEPS:
            return rating.step(self, session, citizen, inbound, state, lang, now)
        if step in FORM_STEPS:
            return self._form(session, citizen, inbound, state, lang, now)
        if step == ADDING:
            return self._adding(session, citizen, inbound, state, lang, now)
        return self._menu(session, citizen, inbound, lang, now, question)

    # -- consent and language ---------------------------------------------------------------
    def _consent_prompt(self, lang) -> Reply:
        return Reply(t(lang, "privacy_notice", years=self.office.retention_years,
                       contacts=self.office.contacts or self.office.name),
                     rows(Button(t(lang, "button.agree"), "agree"),
                          Button(t(lang, "button.disagree"), "disagree"),
                          Button(t(lang, "button.other_language"), "language")))

    def _consent(self, session, citizen, inbound, state, lang, now):
        greeting = Reply(t(lang, "greeting", office=self.office.name))
        if (state or {}).get("step") != CONSENT:
            first = {"step": CONSENT}
            if inbound.command and ((inbound.command[0] in STATUS and inbound.command[1])
                                    or inbound.command[0] in SURVEY):
                first["then"] = inbound.text  # asked before agreeing: answered right after
            return first, Outcome([greeting, self._consent_prompt(lang)])
        options = [Button(t(lang, "button.agree"), "agree"), Button(t(lang, "button.disagree"), "disagree"),
                   Button(t(lang, "button.other_language"), "language")]
        picked = choose(inbound, options)
        if picked == "agree":
            citizen.consent_at = now
            if state.get("then"):  # the /status TICKET CODE or /survei they sent first
                asked = Inbound(inbound.channel, inbound.chat_id, inbound.provider_message_id, text=state["then"],
                                origin=inbound.origin)
                then, out = self._command(session, citizen, asked, None, lang, now, *asked.command)
                ends_itself = then is not None or asked.command[0] in SURVEY  # the survey ends with the menu
                return then, Outcome(out.replies + ([] if ends_itself else [self.menu(lang)]))
            return None, Outcome([self.menu(lang)])
        if picked == "disagree":
            return None, Outcome([Reply(t(lang, "consent_declined", contacts=self.office.contacts or "-"))])
        if picked == "language":
            citizen.language = "en" if lang == "id" else "id"
            return dict(state, step=CONSENT), Outcome([self._consent_prompt(citizen.language)])
        return dict(state, step=CONSENT), Outcome([Reply(t(lang, "consent_needed")), self._consent_prompt(lang)])

    def _switch_language(self, citizen, state, lang):
        citizen.language = "en" if lang == "id" else "id"
        lang = citizen.language
        out = Outcome([Reply(t(lang, "language_set"))])
        step = (state or {}).get("step")
        if citizen.consent_at is None:
            out.replies.append(self._consent_prompt(lang))
            return {"step": CONSENT}, out
        if step in FORM_STEPS:
            out.replies.append(intake.prompt(state, self.office.rules(state.get("channel", "")), lang))
            return state, out
        out.replies.append(self.menu(lang))
        return None, out

    # -- the menu ---------------------------------------------------------------------------
    def menu(self, lang) -> Reply:
        return Reply(t(lang, "menu.title"), rows(*self._menu_options(lang)))

    def _menu_options(self, lang) -> list[Button]:
        survey_item = ("survey",) if self.office.skm_survey else ()
        keys = ("file", "status", "add", *survey_item, "help", "info", "language")
        return [Button(t(lang, f"menu.{key}"), key) for key in keys]

    def _help(self, lang) -> str:
        return t(lang, "help") + ("\n" + t(lang, "help.survey") if self.office.skm_survey else "")

    def _menu(self, session, citizen, inbound, lang, now, question=None):
        picked = choose(inbound, self._menu_options(lang))
        if picked == "file":
            return self._begin_form(citizen, inbound, lang, now)
        if picked == "status":
            return None, Outcome([case_list(session, self.office, citizen, lang)])
        if picked == "add":
            return None, Outcome([self._open_cases_to_add(session, citizen, lang)])
        if inbound.button and inbound.button.startswith("add|"):
            return self._start_adding(session, citizen, inbound.button[4:], lang)
        if picked == "survey":
            return survey.begin(self, session, citizen, inbound, lang, now)
        if picked == "help":
            return None, Outcome([Reply(self._help(lang)), self.menu(lang)])
        if picked == "info":
            return None, Outcome([Reply(self.office.info_text(lang)), self.menu(lang)])
        if picked == "language":
            return self._switch_language(citizen, None, lang)
        # A case waiting on this citizen takes what they send next (DESIGN: needs_info),
        # and what follows, until they press Done.
        waiting = self._waiting_case(session, citizen)
        if waiting is not None and _has_content(inbound):
            return ({"step": ADDING, "ticket": waiting.ticket},
                    Outcome(self._add_to(session, waiting, inbound, lang, now) + [self._adding_prompt(waiting, lang)]))
        menu = self.menu(lang)
        if question is not None and question.options != menu.options:  # that question again
            return None, Outcome([Reply(t(lang, "choice_unclear")), question])
        return None, Outcome([Reply(t(lang, "menu_unknown")), menu])

    def _command(self, session, citizen, inbound, state, lang, now, name, args):
        in_form = (state or {}).get("step") in FORM_STEPS
        if name in START:
            if in_form:  # coming back mid-form: carry on where they were
                return self._keep(state, lang, [Reply(t(lang, "command_mid_form"))])
            return None, Outcome([Reply(t(lang, "greeting", office=self.office.name)), self.menu(lang)])
        if name in HELP:
            return self._keep(state, lang, [Reply(self._help(lang))])
        if name in INFO:
            return self._keep(state, lang, [Reply(self.office.info_text(lang))])
        if name in STATUS:
            reply = case_detail(session, self.office, citizen, args, lang, now) if args \
                else case_list(session, self.office, citizen, lang)
            return self._keep(state, lang, [reply])
        if in_form:
            return state, Outcome([Reply(t(lang, "command_mid_form")),
                                   intake.prompt(state, self.office.rules(inbound.channel), lang)])
        if name in FILE:
            return self._begin_form(citizen, inbound, lang, now)
        if name in erasure.COMMANDS:
            return erasure.ask(lang)
        if name in SURVEY:
            return survey.begin(self, session, citizen, inbound, lang, now)
        if name in ADD:
            return self._start_adding(session, citizen, args, lang)
        if name in OFFICER or name in self._officer_commands():
            log.info("refused: officer command /%s from a non-officer on %s", name, inbound.channel)
            return None, Outcome([Reply(t(lang, "officer_only"))])
        return self._keep(state, lang, [Reply(t(lang, "command_unknown", command=name))])

    def _keep(self, state, lang, replies):
        """Answer a side question and put the current question (or the menu) back."""
        if (state or {}).get("step") in FORM_STEPS:
            replies.append(intake.prompt(state, self.office.rules(state.get("channel", "")), lang))
        elif (state or {}).get("step") == ADDING:
            replies.append(Reply(t(lang, "add.started", ticket=state["ticket"]),
                                 rows(Button(t(lang, "button.done"), "done"))))
        return state, Outcome(replies)

    def _officer_commands(self) -> set[str]:
        return {c for tr in self.office.workflow.transitions for c in (tr.command, tr.command_en) if c}

    # -- the complaint form -----------------------------------------------------------------
    def _begin_form(self, citizen, inbound, lang, now):
        rules = self.office.rules(inbound.channel)
        state, out = intake.begin(rules, lang, phone=inbound.phone)
        draft = state["draft"]
        if citizen.name:  # a returning citizen: offer what we know, they can edit it
            draft.update(name=citizen.name, email=citizen.email, phone=draft.get("phone") or citizen.phone)
            state = dict(state, step=intake.Step.KIND.value)
            out = Outcome([out.replies[0], intake.prompt(state, rules, lang)])
        # When it began: should it be cancelled or expire, what it echoed is cleared from then.
        return dict(state, channel=inbound.channel, **{dialogs.BEGAN: now.isoformat()}), out

    def _forget_form(self, session, inbound, state, now) -> None:
        if (state or {}).get("step") in FORM_STEPS and state.get(dialogs.BEGAN):
            privacy.forget_form(session, inbound.channel, inbound.chat_id,
                                datetime.fromisoformat(state[dialogs.BEGAN]), now)

    def _form(self, session, citizen, inbound, state, lang, now):
        rules = self.office.rules(inbound.channel)
        new_state, out = intake.step(state, inbound, rules, lang)
        for effect in out.effects:
            if isinstance(effect, intake.Cancel):
                self._forget_form(session, inbound, state, now)
                return None, Outcome([Reply(t(lang, "cancelled")), self.menu(lang)])
            if isinstance(effect, intake.Submit):
                return self._submit(session, citizen, inbound, state, effect.draft, lang, now)
        return dict(new_state, channel=inbound.channel), out

    def _submit(self, session, citizen, inbound, state, draft, lang, now):
        office = self.office
        refused = office.quota.take(inbound.channel, inbound.chat_id, inbound.origin) if office.quota else None
        if refused is not None:  # a flood: no case, no notice, no clock; the form is kept for later
            return state, Outcome([Reply(t(lang, "limit.complaints", minutes=refused.minutes,
                                           contacts=office.contacts or office.name)),
                                   intake.prompt(state, office.rules(inbound.channel), lang)])
        code = access.new_code()  # shown once here and in the first email; kept hashed
        try:
            with session.begin_nested():
                case = office.cases.open_case(
                    session, kind=draft["kind"], text=draft["text"], channel=inbound.channel,
                    category=draft.get("category"), privacy=draft.get("privacy", "biasa"),
                    citizen=citizen, language=lang, now=now, access_code=code)
                add_attachments(session, case, draft.get("attachments", []), inbound.channel, now)
        except InvalidInput as exc:
            return state, Outcome([Reply(t(lang, "submit_failed", reason=error_text(exc, lang))),
                                   intake.prompt(state, office.rules(inbound.channel), lang)])
        notify.new_case(session, office, case, self.group_chat_id, now)
        citizen.name = draft.get("name") or citizen.name
        if "email" in draft:  # skipped on this form: no more follow-ups by email
            citizen.email = draft["email"]
        citizen.phone = draft.get("phone") or citizen.phone
        replies = [Reply(t(lang, "submitted", ticket=case.ticket))]
        first = office.workflow.states[case.state]
        clock = office.cases.open_deadline(session, case)
        if clock is not None:
            step = (first.step_id if lang == "id" else first.step_en) or first.label_id
            replies.append(Reply(t(lang, "submitted_next", step=step, due=when(office.calendar, clock.due_at, lang))))
        if not office.calendar.is_open(now):
            opening = office.calendar.next_opening(now)
            replies.append(Reply(t(lang, "submitted_closed", opening=when(office.calendar, opening, lang))))
        replies.append(Reply(t(lang, "submitted_code", ticket=case.ticket, code=code)))
        if office.email and citizen.email:
            replies.append(Reply(t(lang, "submitted_email", email=citizen.email)))
            notify.welcome_email(session, office, case, code, now)
        replies.append(self.menu(lang))
        return None, Outcome(replies)

    # -- the citizen's verdict on an answer ----------------------------------------------------
    def _case_button(self, session, citizen, payload, state, lang, now):
        """ "Solved" / "not solved" under an answer (c|accept|TICKET, c|not_resolved|TICKET)."""
        _, action, ticket = (payload.split("|") + ["", ""])[:3]
        case = self._own_case(session, citizen, ticket)
        if case is None or action not in ("accept", "not_resolved"):
            return state, Outcome([Reply(t(lang, "status.not_found", ticket=ticket[:40]))])
        if self.office.cases.workflow_of(case).transition(action, case.state) is None:
            return state, Outcome([Reply(t(lang, "case.moved_on", ticket=case.ticket))])
        if action == "not_resolved":
            return {"step": UNSOLVED, "ticket": case.ticket}, Outcome([Reply(t(lang, "case.ask_unsolved"))])
        return rating.ask_rating(case.ticket, lang)

    def _unsolved(self, session, citizen, inbound, state, lang, now):
        if not inbound.plain_text:
            return state, Outcome([Reply(t(lang, "case.ask_unsolved"))])
        case = self._own_case(session, citizen, state["ticket"])
        if case is None or self.office.cases.workflow_of(case).transition("not_resolved", case.state) is None:
            return None, Outcome([Reply(t(lang, "case.moved_on", ticket=state["ticket"])), self.menu(lang)])
        self._citizen_fires(session, case, "not_resolved", inbound.plain_text, now)
        session.add(Rating(case_id=case.id, solved=False, comment=inbound.plain_text, created_at=now))
        return None, Outcome([Reply(t(lang, "case.reopened", ticket=case.ticket)), self.menu(lang)])

    def _citizen_fires(self, session, case, trigger, note, now):
        cases = self.office.cases
        tr = cases.workflow_of(case).transition(trigger, case.state)
        case = cases.fire(session, case.ticket, trigger, CITIZEN, note=note, now=now)
        notify.transition(session, self.office, case, tr, note, now, by_citizen=True)

    # -- adding information to a case -------------------------------------------------------
    def _own_case(self, session, citizen, ticket) -> Case | None:
        try:
            case = self.office.cases.get(session, ticket)
        except NotFound:
            return None
        return case if case.citizen_id == citizen.id else None

    def _waiting_case(self, session, citizen) -> Case | None:
        """The citizen's newest case that waits on them (a citizen may act from its state)."""
        wf = self.office.workflow
        waiting = [s for s, st in wf.states.items() if st.pause_clock]
        return session.scalar(select(Case).where(Case.citizen_id == citizen.id, Case.state.in_(waiting))
                              .order_by(Case.id.desc()).limit(1))

    def _open_cases_to_add(self, session, citizen, lang) -> Reply:
        wf = self.office.workflow
        open_states = [s for s, d in wf.states.items() if not d.final]
        cases = session.scalars(select(Case).where(Case.citizen_id == citizen.id, Case.state.in_(open_states))
                                .order_by(Case.id.desc()).limit(8)).all()
        if not cases:
            return Reply(t(lang, "status.none"))
        return Reply(t(lang, "add.choose"), rows(*[Button(c.ticket, f"add|{c.ticket}") for c in cases]))

    def _start_adding(self, session, citizen, ticket, lang):
        if not ticket:
            return None, Outcome([Reply(t(lang, "add.ask_ticket"))])
        case = self._own_case(session, citizen, ticket)
        if case is None:
            return None, Outcome([Reply(t(lang, "status.not_found", ticket=ticket.upper()))])
        if self.office.cases.workflow_of(case).states[case.state].final:
            return None, Outcome([Reply(t(lang, "add.closed", ticket=case.ticket))])
        return {"step": ADDING, "ticket": case.ticket}, Outcome([self._adding_prompt(case, lang)])

    def _adding(self, session, citizen, inbound, state, lang, now):
        if choose(inbound, [Button(t(lang, "button.done"), "done")]) == "done":
            return None, Outcome([Reply(t(lang, "add.done", ticket=state["ticket"])), self.menu(lang)])
        case = self._own_case(session, citizen, state["ticket"])
        if case is None or self.office.cases.workflow_of(case).states[case.state].final:
            return None, Outcome([Reply(t(lang, "add.closed", ticket=state["ticket"])), self.menu(lang)])
        if not _has_content(inbound):
            key = "intake.attachment_kind" if inbound.attachments else "intake.empty"
            return state, Outcome([Reply(t(lang, key)), self._adding_prompt(case, lang)])
        return state, Outcome(self._add_to(session, case, inbound, lang, now) + [self._adding_prompt(case, lang)])

    def _adding_prompt(self, case, lang) -> Reply:
        return Reply(t(lang, "add.started", ticket=case.ticket), rows(Button(t(lang, "button.done"), "done")),
                     wants_files=True)

    def _add_to(self, session, case: Case, inbound: Inbound, lang, now) -> list[Reply]:
        cases = self.office.cases
        files = [a.as_dict() for a in inbound.attachments if a.kind in intake.MEDIA]
        cases.add_info(session, case, CITIZEN, text=inbound.plain_text, attachments=files,
                       channel=inbound.channel, now=now)
        lifecycle_transition = cases.workflow_of(case).transition("provide_info", case.state)
        if lifecycle_transition is not None and "citizen" in lifecycle_transition.roles:
            self._citizen_fires(session, case, "provide_info", None, now)
            return [Reply(t(lang, "add.resumed", ticket=case.ticket))]
        notify.citizen_added(session, self.office, case, now)
        return [Reply(t(lang, "add.added", ticket=case.ticket))]
