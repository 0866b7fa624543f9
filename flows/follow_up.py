"""What counts as a follow-up (tindak lanjut) in the figures KemenPAN-RB and Kemendagri
evaluate: "persentase tindak lanjut laporan dan rata-rata lamanya tindak lanjut" (seed 004).

A workflow says it in its `[reporting]` table:

- `followed_up`: the states where the unit's answer has been given, or that come after it
  (closed after the answer). A case that reached one of them by the period's end is
  followed up; the time to the first of them is its follow-up time.
- `referred` (bukan wewenang) and `rejected`: counted apart and left out of the
  denominator: the office answered with a reason, but did not follow the report up.
- Any other final state (archived as incomplete) is "not followed up": it stays in the
  denominator. A case in no final state is open, and shown apart with its age so far.
- The states that pause the clock (`pause_clock`, waiting on the citizen) are left out of
  the follow-up time and of the open cases' age.

`escalation.followed_up` (what stops the 60-working-day Ombudsman watch) is a different
list on purpose: the watch also stops at a referral, a rejection or an archiving, since
those end the office's duty without being a follow-up. What the report counts as followed
up must stop the watch too (checked below): a case counted as answered must never go to
the Ombudsman as "not followed up".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # flows.workflow imports this module
    from flows.workflow import Workflow


@dataclass(frozen=True)
class FollowUpStates:
    followed_up: tuple[str, ...]
    referred: tuple[str, ...]
    rejected: tuple[str, ...]
    ended: tuple[str, ...]  # other final states: closed without a follow-up (archived)
    waiting: tuple[str, ...]  # the clock pauses: the citizen's time, not the office's
    final_followed_up: tuple[str, ...]  # followed-up states that are final (closed)

    @property
    def settling(self) -> tuple[str, ...]:
        """The states whose first entry settles what a case counts as."""
        return tuple(dict.fromkeys(self.followed_up + self.referred + self.rejected + self.ended))


def answer_held(wf: Workflow) -> set[str]:
    """The states every way into brought the citizen an officer's public text: the
    transition itself carries one, or it comes (without a note of its own) from states
    that every way into already did (least fixpoint)."""
    into: dict[str, list] = {s: [] for s in wf.states}
    for t in wf.transitions:
        into[t.dest].append(t)
    held: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name in wf.states:
            if name in held or name == wf.initial or not into[name]:
                continue
            if all(wf.answers(t) or all(s in held for s in t.source) for t in into[name]):
                held.add(name)
                changed = True
    return held


def default_followed_up(wf: Workflow) -> tuple[str, ...]:
    """For a workflow without `[reporting]`: where the citizen is asked about the answer,
    and the final states those lead to (answered, closed)."""
    verdict = [s for s in wf.states if wf.awaits_verdict(s)]
    after = [t.dest for s in verdict for t in wf.transitions_from(s) if wf.states[t.dest].final]
    return tuple(dict.fromkeys(verdict + after))


def follow_up_states(wf: Workflow) -> FollowUpStates:
    r = wf.reporting
    followed = r.followed_up if r else default_followed_up(wf)
    referred, rejected = (r.referred, r.rejected) if r else ((), ())
    named = set(followed) | set(referred) | set(rejected)
    ended = tuple(s for s, d in wf.states.items() if d.final and s not in named)
    waiting = tuple(s for s, d in wf.states.items() if d.pause_clock)
    return FollowUpStates(tuple(followed), tuple(referred), tuple(rejected), ended, waiting,
                          tuple(s for s in followed if wf.states[s].final))


def check(wf: Workflow, fail) -> None:
    """`[reporting]` names states that mean what the report says of them."""
    r = wf.reporting
    if r is None:
        return
    held = answer_held(wf)
    seen: dict[str, str] = {}
    for key in ("followed_up", "referred", "rejected"):
        for s in getattr(r, key):
            if s not in wf.states:
                fail(f"reporting.{key}", f"unknown state {s!r} (states: {', '.join(wf.states)})")
            if s in seen:
                fail(f"reporting.{key}", f"{s!r} is already in reporting.{seen[s]}")
            seen[s] = key
    if not r.followed_up:
        fail("reporting.followed_up", "name the states where the unit's answer has been given")
    for s in r.followed_up:
        st = wf.states[s]
        if st.pause_clock or s not in held:
            fail("reporting.followed_up", f"{s!r} can be reached without the unit's answer "
                                          "(every way into a followed-up state brings the answer, "
                                          "or comes from a followed-up state)")
        esc = wf.escalation
        if esc is not None and not st.final and s not in esc.followed_up:
            fail("reporting.followed_up", f"{s!r} counts as followed up in the report but not in "
                                          "escalation.followed_up: such a case would still go to the Ombudsman")
    for key in ("referred", "rejected"):
        for s in getattr(r, key):
            if not wf.states[s].final:
                fail(f"reporting.{key}", f"{s!r} is not final: a {key} case ends there")


def check_answers_reach_the_citizen(wf, fail) -> None:
    """The citizen is never asked "is it solved?" about an answer they have not seen.

    A public note (an answer, a question, a reason) must land in a state the citizen is
    told about. A state from which the citizen may `accept` must be citizen-visible, and
    every way into it must bring an officer's public text: either the transition itself
    carries one, or it comes (without a note of its own) from states that every way into
    already did; the verdict message then repeats the latest answer (handlers.notify).
    """
    for i, t in enumerate(wf.transitions):
        if t.note_public and not wf.states[t.dest].citizen_visible:
            fail(f"transitions[{i}].dest", f"{t.trigger!r} gives the citizen a public note but "
                                           f"{t.dest!r} is not citizen_visible, so they never see it")
    held = answer_held(wf)  # states every way into brought a public answer
    for name, st in wf.states.items():
        if not wf.awaits_verdict(name):
            continue
        if not st.citizen_visible:
            fail(f"states.{name}.citizen_visible", "the citizen may accept the answer here, "
                                                   "so they must be told of this state")
        if name not in held:
            bad = next(t for t in wf.transitions if t.dest == name
                       and not (wf.answers(t) or all(s in held for s in t.source)))
            fail(f"states.{name}", f"the citizen may accept here without having seen an answer: "
                                   f"{bad.trigger!r} from {', '.join(bad.source)} brings no public text "
                                   "(the answering step needs needs = \"note\" and note_public = true)")
