"""Workflow files: validation names the key at fault; triggers never fail silently."""
import pytest

from flows.errors import InvalidTransition, RoleNotAllowed, UnknownAction, WorkflowError
from flows.lifecycle import Lifecycle
from flows.presets import lifecycle_of, load_workflow, preset_names
from flows.workflow import parse_workflow

GOOD = """
[workflow]
name = "mini"
label_id = "Mini"
label_en = "Mini"
source = "test"
initial = "received"

[roles.admin]
label_id = "Admin"
label_en = "Admin"
kind = "coordinator"

[states.received]
label_id = "Masuk"
label_en = "In"
actors = ["admin"]
sla = "3 working days"

[states.closed]
label_id = "Selesai"
label_en = "Closed"
final = true

[[transitions]]
trigger = "close"
source = "received"
dest = "closed"
roles = ["admin"]
label_id = "Tutup"
label_en = "Close"
"""


def test_the_minimal_workflow_is_valid():
    wf = parse_workflow(GOOD, "mini.toml")
    assert wf.name == "mini" and list(wf.states) == ["received", "closed"]


@pytest.mark.parametrize("old, new, key, problem", [
    ('dest = "closed"', 'dest = "clozed"', "transitions[0].dest", "unknown state 'clozed'"),
    ('initial = "received"', 'initial = "start"', "workflow.initial", "unknown state 'start'"),
    ('roles = ["admin"]', 'roles = ["kepala"]', "transitions[0].roles", "role 'kepala' is not declared"),
    ('actors = ["admin"]', 'actors = ["humas"]', "states.received.actors", "role 'humas'"),
    ('sla = "3 working days"', 'sla = "3 hari kerjaa"', "states.received.sla", "cannot read SLA"),
    ('final = true', 'final = false', "states.closed", "not final and has no way out"),
    ('label_en = "In"', 'label_en = "In"\nlable_id = "x"', "states.received.lable_id", "Extra inputs"),
    ('kind = "coordinator"', 'kind = "boss"', "roles.admin.kind", "Input should be"),
    ('[[transitions]]', '[states.orphan]\nlabel_id = "x"\nlabel_en = "x"\nfinal = true\n\n[[transitions]]',
     "states.orphan", "unreachable from the initial state 'received'"),
    ('kind = "coordinator"', 'kind = "officer"', "roles", "no role has kind"),
    ('name = "mini"', 'name = "mini"\nname = "again"', "(file)", "not valid TOML"),
])
def test_a_broken_file_names_the_key_at_fault(old, new, key, problem):
    assert old in GOOD
    with pytest.raises(WorkflowError) as err:
        parse_workflow(GOOD.replace(old, new, 1), "mini.toml")
    assert err.value.key == key
    assert problem in err.value.problem
    where = "mini.toml" if key == "(file)" else f"mini.toml: {key}"
    assert str(err.value).startswith(f"{where}: ")


def test_breach_trigger_must_exist_and_allow_the_system():
    bad = GOOD.replace('sla = "3 working days"', 'sla = "3 working days"\non_breach = { trigger = "close" }')
    with pytest.raises(WorkflowError, match="does not allow role 'system'"):
        parse_workflow(bad)


def test_duplicate_trigger_from_one_state_is_refused():
    dup = GOOD + GOOD[GOOD.index("[[transitions]]"):]
    with pytest.raises(WorkflowError, match=r"transitions\[1\].trigger: 'close' from 'received' is already"):
        parse_workflow(dup)


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_is_valid_and_has_a_coordinator_and_leadership(name):
    wf = load_workflow(name)
    assert wf.roles_of_kind("coordinator") and wf.roles_of_kind("leadership")
    assert any(s.final for s in wf.states.values())


def test_the_six_presets_ship():
    assert preset_names() == ["bangkalan", "bps-babel", "bps-bengkulu", "bps-kaltim",
                              "pst-sorong", "sp4n-lapor"]


def test_unknown_preset_or_missing_file():
    with pytest.raises(WorkflowError, match="no such preset or file"):
        load_workflow("bps-jambi")
    with pytest.raises(WorkflowError, match="cannot read"):
        load_workflow("/nonexistent/flow.toml")


class TestTriggers:
    lc = lifecycle_of(load_workflow("sp4n-lapor"))

    def test_fire_returns_the_new_state(self):
        assert self.lc.fire("received", "verify", "admin") == "verified"

    def test_refused_role(self):
        with pytest.raises(RoleNotAllowed, match="role 'citizen' may not verify"):
            self.lc.fire("received", "verify", "citizen")

    def test_impossible_from_this_state(self):
        with pytest.raises(InvalidTransition, match="cannot answer a case that is 'Not yet verified'"):
            self.lc.fire("received", "answer", "unit_officer")

    def test_unknown_action(self):
        with pytest.raises(UnknownAction, match="'fly' is not an action"):
            self.lc.fire("received", "fly", "admin")

    def test_a_false_from_the_machine_is_never_ignored(self):
        lc = Lifecycle(load_workflow("sp4n-lapor"))
        # Bypass check(): the machine's own role condition still refuses, and we raise.
        lc.check = lambda *a: None
        with pytest.raises(RoleNotAllowed):
            lc.fire("received", "verify", "citizen")

    def test_one_machine_per_workflow_shared_by_all_cases(self):
        wf = load_workflow("sp4n-lapor")
        assert lifecycle_of(wf) is self.lc
        assert self.lc.machine.models == []  # no case is ever bound to the machine
        states = ["received"] * 3
        states = [self.lc.fire(s, "verify", "admin") for s in states]
        assert states == ["verified"] * 3 and self.lc.machine.models == []

    def test_allowed_lists_what_a_role_may_do_now(self):
        assert [t.trigger for t in self.lc.allowed("received", {"admin"})] == \
            ["verify", "request_info", "refer", "reject", "dispose"]
        assert self.lc.allowed("received", {"unit_officer"}) == []


def test_continues_must_point_at_a_running_clock():
    bad = GOOD.replace('final = true', 'final = true\n\n[states.verified]\nlabel_id = "v"\nlabel_en = "v"\n'
                       'continues = "closed"', 1)
    with pytest.raises(WorkflowError, match=r"states.verified.continues: 'closed' has no clock"):
        parse_workflow(bad)
