"""Workflows as data: the schema of a workflow TOML file and its validation.

A workflow names its roles, its states (labels in Indonesian and English, the SOP
step, who acts, the SLA, what happens on breach, whether the clock pauses there) and
its transitions (trigger, sources, destination, roles allowed). `parse_workflow`
turns TOML text into a checked `Workflow`; every problem is reported with the key at
fault, e.g. ``transitions[3].dest: unknown state 'dispozed'``.
"""
from __future__ import annotations

import tomllib
from collections import deque
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from flows.calendar import parse_week
from flows.duties import PeriodicDef, check_duties
from flows.errors import CalendarError, SlaParseError, WorkflowError
from flows.follow_up import check as check_reporting, check_answers_reach_the_citizen
from flows.lapor import LaporDef, check as check_lapor
from flows.sla import lower_share, parse_sla, reminder_fractions

# Actors that exist in every workflow without being declared.
CITIZEN, SYSTEM = "citizen", "system"
BUILTIN_ROLES = (CITIZEN, SYSTEM)
ROLE_KINDS = ("coordinator", "liaison", "officer", "leadership")
DEFAULT_REMINDERS = (0.5, 0.8, 1.0)
# Chat commands the citizen's and the officers' conversations keep for themselves
# (handlers.citizen, handlers.officer.FIXED; tests/test_workflow_engine.py keeps this
# list in step with them). A workflow command with one of these names would never
# reach its transition, or worse, /start would act on a case.
RESERVED_COMMANDS = frozenset({
    "start", "mulai", "menu", "bantuan", "help", "batal", "cancel", "bahasa", "language",
    "aduan", "complaint", "pengaduan", "status", "tambah", "add", "info", "petugas", "officer",
    "antrian", "queue", "kasus", "case", "catatan", "note", "eskalasi", "escalate", "lapor",
    "laporid", "statistik", "stats", "catat", "record", "survei", "survey", "masuk", "login",
})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleDef(_Strict):
    label_id: str
    label_en: str
    kind: Literal["coordinator", "liaison", "officer", "leadership"]
    # Where the workflow forwards cases to units, a liaison or officer works for one unit
    # (invited with its unit, sees its cases) unless the workflow says it works for the
    # whole agency: bps-kaltim's liaison at the provincial office forwards to the units.
    scope: Literal["unit", "agency"] = "unit"


class BreachDef(_Strict):
    notify: tuple[str, ...] = ()
    trigger: str | None = None  # fired automatically by the system on breach


class StateDef(_Strict):
    label_id: str
    label_en: str
    step_id: str | None = None  # the SOP activity, as written
    step_en: str | None = None
    actors: tuple[str, ...] = ()  # roles that must act in this state (get reminders)
    sla: str | None = None  # the enforced clock, e.g. "3 working days"
    # A range's lower bound ("1 – 3 Hari": sla = "3 working days", sla_min = "1 working
    # day"): the stage is due at the upper bound and reminded at the lower one.
    sla_min: str | None = None
    sop_time: str | None = None  # the SOP's own words for the time limit
    sop_note: str | None = None  # the SOP's remark on the step (its Keterangan), as written
    sla_note: str | None = None  # why the enforced clock differs from sop_time, if it does
    pause_clock: bool = False  # entering pauses the previous stage's clock (waiting on citizen)
    continues: str | None = None  # this stage runs on the named stage's clock
    final: bool = False
    citizen_visible: bool = True
    # One line for the citizen on what this stage means for them (the label is terse).
    explain_id: str | None = None
    explain_en: str | None = None
    remind_at: tuple[float, ...] = DEFAULT_REMINDERS
    on_breach: BreachDef = BreachDef()

    _fractions = field_validator("remind_at")(reminder_fractions)

    def thresholds(self, sla: str) -> tuple[float, ...]:
        """The reminder marks of a clock of this stage running on `sla` (its own or a
        category's): `remind_at`, plus the range's lower bound as the share of `sla` it is
        ("1 working day" of "3 working days": 1/3, the closing time of the first day)."""
        share = lower_share(self.sla_min, sla) if self.sla_min is not None else None
        return tuple(sorted(set(self.remind_at) | ({share} if share is not None else set())))


class TransitionDef(_Strict):
    trigger: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    source: tuple[str, ...]
    dest: str
    roles: tuple[str, ...] = Field(min_length=1)
    label_id: str
    label_en: str
    command: str | None = None  # chat command (Indonesian), e.g. "verifikasi"
    command_en: str | None = None
    needs: Literal["note", "unit"] | None = None  # what the actor must give
    note_public: bool = False  # the note goes to the citizen (a question, an answer, a reason)

    @field_validator("source", mode="before")
    @classmethod
    def _listify(cls, v):
        return (v,) if isinstance(v, str) else v


class IntakeDef(_Strict):
    step_id: str = "Pelapor menyampaikan pengaduan melalui kanal yang tersedia"
    step_en: str = "The reporter files the complaint through an available channel"
    sop_time: str | None = None
    require_email: bool = False


class EscalationDef(_Strict):
    after: str  # e.g. "60 working days" without a follow-up
    notify: tuple[str, ...]
    ombudsman_notice: bool = True  # tell the citizen of the Ombudsman route (not anonim)
    followed_up: tuple[str, ...]  # states that count as a follow-up

    def after_label(self, lang: str) -> str:
        """"60 hari kerja" / "60 working days": the figure the messages quote."""
        return parse_sla(self.after).label(lang)


class ReportingDef(_Strict):
    """Which states the follow-up figures count as what (flows.follow_up)."""
    followed_up: tuple[str, ...]  # the unit's answer was given (or the case closed after it)
    referred: tuple[str, ...] = ()  # bukan wewenang: counted apart, out of the denominator
    rejected: tuple[str, ...] = ()  # counted apart, out of the denominator


class CategoryDef(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label_id: str
    label_en: str
    service_time: str | None = None  # the service standard's time, as written
    sla: dict[str, str] = {}  # per-state SLA overrides for cases of this category


class SurveyDef(_Strict):
    """The satisfaction survey (SKM, PermenPAN-RB 14/2017) as the office's standard has it:
    on or off by default (config `survey.skm` overrides), and which categories are services
    a respondent can rate (the others, e.g. "Lainnya", are topics of complaints only)."""

    skm: bool = False
    services: tuple[str, ...] = ()  # category ids


class WorkflowHeader(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    label_id: str
    label_en: str
    source: str  # the SOP or rule this reproduces
    initial: str
    timezone: str | None = None  # the office time zone the SOP is written for
    notes_id: str | None = None
    notes_en: str | None = None


class Workflow(_Strict):
    workflow: WorkflowHeader
    office_hours: dict[str, str] = {}
    intake: IntakeDef = IntakeDef()
    roles: dict[str, RoleDef]
    states: dict[str, StateDef]
    transitions: tuple[TransitionDef, ...]
    escalation: EscalationDef | None = None
    categories: tuple[CategoryDef, ...] = ()
    periodic: tuple[PeriodicDef, ...] = ()
    survey: SurveyDef = SurveyDef()
    lapor: LaporDef | None = None  # state -> SP4N-LAPOR! status (flows.lapor)
    reporting: ReportingDef | None = None

    # -- convenience --------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.workflow.name

    @property
    def initial(self) -> str:
        return self.workflow.initial

    def transitions_from(self, state: str) -> list[TransitionDef]:
        return [t for t in self.transitions if state in t.source]

    def transition(self, trigger: str, state: str) -> TransitionDef | None:
        for t in self.transitions:
            if t.trigger == trigger and state in t.source:
                return t
        return None

    @property
    def assigns_units(self) -> bool:
        """Whether cases are forwarded to units here (only then are officers unit-bound)."""
        return any(t.needs == "unit" for t in self.transitions)

    def unit_bound(self, role: str) -> bool:
        return (self.assigns_units and role in self.roles and self.roles[role].kind in ("liaison", "officer")
                and self.roles[role].scope == "unit")

    def roles_of_kind(self, kind: str) -> list[str]:
        return [r for r, d in self.roles.items() if d.kind == kind]

    def ordered_states(self) -> list[str]:
        """The main path in the order a case meets it (depth-first from the initial state,
        transitions in file order), then the waiting states, then the final ones: the order
        `aduan workflow show` and the reports list states in."""
        seen: list[str] = []

        def visit(state: str) -> None:
            seen.append(state)
            for t in self.transitions_from(state):
                if t.dest not in seen:
                    visit(t.dest)

        visit(self.initial)
        seen += [s for s in self.states if s not in seen]  # unreachable is refused; kept safe
        return sorted(seen, key=lambda s: (2 if self.states[s].final else 1 if self.states[s].pause_clock else 0,
                                           seen.index(s)))

    def awaits_verdict(self, state: str) -> bool:
        """Whether the citizen is asked here if the answer solved it (they may `accept`)."""
        return any(t.trigger == "accept" and CITIZEN in t.roles for t in self.transitions_from(state))

    def answers(self, t: TransitionDef) -> bool:
        """Whether `t` gives the citizen an officer's text (an answer, a question, a reason)."""
        return t.needs == "note" and t.note_public and any(r in self.roles for r in t.roles)


def key_path(loc: tuple) -> str:
    """("transitions", 3, "dest") -> "transitions[3].dest": how errors name a key."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_workflow(text: str, source: str = "<workflow>") -> Workflow:
    """Parse and check a workflow TOML text; raise WorkflowError naming the key at fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WorkflowError(source, "(file)", f"not valid TOML: {exc}") from exc
    try:
        wf = Workflow.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise WorkflowError(source, key_path(err["loc"]) or "(top)", err["msg"]) from exc
    _check(wf, source)
    return wf


def _check(wf: Workflow, source: str) -> None:
    def fail(key: str, problem: str):
        raise WorkflowError(source, key, problem)

    states, roles = wf.states, set(wf.roles) | set(BUILTIN_ROLES)
    for r in BUILTIN_ROLES:
        if r in wf.roles:
            fail(f"roles.{r}", f"'{r}' is built in and must not be declared")

    def known_state(key: str, name: str):
        if name not in states:
            fail(key, f"unknown state {name!r} (states: {', '.join(states)})")

    def known_role(key: str, name: str):
        if name not in roles:
            fail(key, f"role {name!r} is not declared in [roles] and is not built in "
                      f"(roles: {', '.join(sorted(roles))})")

    known_state("workflow.initial", wf.initial)
    if wf.office_hours:
        try:
            parse_week(wf.office_hours)
        except CalendarError as exc:
            fail("office_hours", str(exc))
    for name, role in wf.roles.items():
        if role.scope == "agency" and role.kind not in ("liaison", "officer"):
            fail(f"roles.{name}.scope", f"a {role.kind} works for the agency anyway; "
                                        "scope is for a liaison or an officer")
    if not wf.roles_of_kind("coordinator"):
        fail("roles", "no role has kind = \"coordinator\"; someone must receive new cases")

    seen: dict[tuple[str, str], int] = {}
    triggers = set()
    for i, t in enumerate(wf.transitions):
        key = f"transitions[{i}]"
        for s in t.source:
            known_state(f"{key}.source", s)
            if (t.trigger, s) in seen:
                fail(f"{key}.trigger", f"{t.trigger!r} from {s!r} is already defined in "
                                       f"transitions[{seen[(t.trigger, s)]}]")
            seen[(t.trigger, s)] = i
        known_state(f"{key}.dest", t.dest)
        for r in t.roles:
            known_role(f"{key}.roles", r)
        triggers.add(t.trigger)

    for name, st in states.items():
        key = f"states.{name}"
        for r in st.actors:
            known_role(f"{key}.actors", r)
            # An actor is reminded of the stage, so they must be able to move it on.
            if not any(r in t.roles for t in wf.transitions_from(name)):
                fail(f"{key}.actors", f"{r!r} acts in {name!r} but no transition out of it "
                                      f"allows {r!r} (add it to a transition's roles, or drop it here)")
        for r in st.on_breach.notify:
            known_role(f"{key}.on_breach.notify", r)
        if st.sla is not None:
            try:
                parse_sla(st.sla)
            except SlaParseError as exc:
                fail(f"{key}.sla", str(exc))
        if st.final and st.sla:
            fail(f"{key}.sla", "a final state has no clock")
        if st.sla_min is not None:
            try:
                if st.sla is None or lower_share(st.sla_min, st.sla) is None:
                    fail(f"{key}.sla_min", f"{st.sla_min!r} is not a lower bound of the stage's "
                                           f"sla {st.sla!r} (same unit, fewer of them)")
            except SlaParseError as exc:
                fail(f"{key}.sla_min", str(exc))
        if st.continues is not None:
            known_state(f"{key}.continues", st.continues)
            target = states[st.continues]
            if target.final or not target.sla or target.continues:
                fail(f"{key}.continues", f"{st.continues!r} has no clock of its own to continue "
                                         "(it must be a non-final state with an SLA)")
            if st.sla:
                fail(f"{key}.sla", "a state that continues another stage's clock has no SLA of its own")
        if trig := st.on_breach.trigger:
            t = wf.transition(trig, name)
            if t is None:
                fail(f"{key}.on_breach.trigger", f"no transition {trig!r} leaves {name!r}")
            if SYSTEM not in t.roles:
                fail(f"{key}.on_breach.trigger", f"transition {trig!r} does not allow role 'system'")
        if not st.final and not wf.transitions_from(name):
            fail(key, "not final and has no way out (add a transition or set final = true)")

    # Every state must be reachable from the initial state.
    reached, todo = {wf.initial}, deque([wf.initial])
    while todo:
        for t in wf.transitions_from(todo.popleft()):
            if t.dest not in reached:
                reached.add(t.dest)
                todo.append(t.dest)
    for name in states:
        if name not in reached:
            fail(f"states.{name}", f"unreachable from the initial state {wf.initial!r}")

    if wf.escalation is not None:
        try:
            parse_sla(wf.escalation.after)
        except SlaParseError as exc:
            fail("escalation.after", str(exc))
        for r in wf.escalation.notify:
            known_role("escalation.notify", r)
        for s in wf.escalation.followed_up:
            known_state("escalation.followed_up", s)

    for i, cat in enumerate(wf.categories):
        for state, text in cat.sla.items():
            known_state(f"categories[{i}].sla", state)
            try:
                parse_sla(text)
            except SlaParseError as exc:
                fail(f"categories[{i}].sla.{state}", str(exc))
    categories = {c.id for c in wf.categories}
    for service in wf.survey.services:
        if service not in categories:
            fail("survey.services", f"{service!r} is not one of the categories ({', '.join(sorted(categories))})")
    commands: dict[str, str] = {}
    for i, t in enumerate(wf.transitions):
        for field, cmd in (("command", t.command), ("command_en", t.command_en)):
            if cmd is None:
                continue
            if cmd in RESERVED_COMMANDS:
                fail(f"transitions[{i}].{field}", f"/{cmd} is a fixed command of the chat "
                                                  "(citizens or officers); choose another name")
            if commands.setdefault(cmd, t.trigger) != t.trigger:
                fail(f"transitions[{i}].{field}", f"/{cmd} already names {commands[cmd]!r}")
    check_duties(wf.periodic, fail, set(wf.roles), commands, RESERVED_COMMANDS)
    check_answers_reach_the_citizen(wf, fail)
    check_lapor(wf, fail)
    check_reporting(wf, fail)
