"""The case lifecycle: one shared `transitions` machine per workflow.

The machine is built once with ``model=None`` and never bound to a case: a case's
state is handed in, the event is triggered on a throw-away holder, and the new state
is handed back. A trigger that cannot or may not fire raises a TransitionError with
a message for people; the machine's own False is checked and never ignored.
"""
from __future__ import annotations

from transitions import Machine, MachineError

from flows.errors import InvalidTransition, RoleNotAllowed, UnknownAction
from flows.workflow import TransitionDef, Workflow


class _Holder:
    """What the machine moves: just a state attribute, for the length of one trigger."""

    __slots__ = ("state",)

    def __init__(self, state: str):
        self.state = state


class Lifecycle:
    def __init__(self, workflow: Workflow):
        self.workflow = workflow
        self.machine = Machine(
            model=None,
            states=list(workflow.states),
            initial=workflow.initial,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
            name=workflow.name,
        )
        for t in workflow.transitions:
            self.machine.add_transition(
                t.trigger, list(t.source), t.dest, conditions=[self._role_allowed]
            )

    def _role_allowed(self, event) -> bool:
        t = self.workflow.transition(event.event.name, event.state.name)
        return t is not None and event.kwargs.get("role") in t.roles

    def check(self, state: str, trigger: str, role: str) -> TransitionDef:
        """The transition `role` would take with `trigger` from `state`, or a clear error."""
        wf = self.workflow
        if trigger not in self.machine.events:
            raise UnknownAction(
                f"{trigger!r} is not an action of workflow {wf.name!r} "
                f"(actions: {', '.join(sorted(self.machine.events))})"
            )
        if state not in wf.states:
            raise InvalidTransition(f"state {state!r} is not a state of workflow {wf.name!r}")
        t = wf.transition(trigger, state)
        if t is None:
            possible = ", ".join(x.trigger for x in wf.transitions_from(state)) or "none"
            raise InvalidTransition(
                f"cannot {trigger} a case that is {wf.states[state].label_en!r} ({state}); "
                f"possible now: {possible}"
            )
        if role not in t.roles:
            raise RoleNotAllowed(
                f"role {role!r} may not {trigger} in workflow {wf.name!r} "
                f"(allowed: {', '.join(t.roles)})"
            )
        return t

    def fire(self, state: str, trigger: str, role: str) -> str:
        """Fire `trigger` from `state` as `role`; return the new state or raise."""
        self.check(state, trigger, role)
        holder = _Holder(state)
        try:
            moved = self.machine.events[trigger].trigger(holder, role=role)
        except MachineError as exc:  # not expected after check(); never swallow it
            raise InvalidTransition(str(exc)) from exc
        if not moved:
            raise RoleNotAllowed(f"role {role!r} may not {trigger} from {state!r}")
        return holder.state

    def allowed(self, state: str, roles: set[str]) -> list[TransitionDef]:
        """The transitions someone holding `roles` may take now."""
        return [t for t in self.workflow.transitions_from(state) if roles & set(t.roles)]
