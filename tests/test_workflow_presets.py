"""The presets to the letter of their seeds (shared/seeds/), and the README's preset table
against what `aduan workflow show` prints. Pure: no database, no chat."""
import re
from pathlib import Path

import pytest

from bot.cli.workflows import sla_core, state_order
from flows.calendar import OfficeCalendar
from flows.errors import WorkflowError
from flows.i18n import t
from flows.presets import load_workflow, preset_names
from flows.sla import parse_sla
from flows.stage_clock import StageClock
from flows.workflow import parse_workflow
from storage.deadlines import sla_text
from tests.conftest import wib, wit
from tests.test_workflow_engine import GOOD  # the smallest valid workflow

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "docs" / "sop"  # the SOPs the presets reproduce, as published
SEED_OF = {"bps-babel": "000", "bps-bengkulu": "001", "bps-kaltim": "002", "pst-sorong": "003",
           "bangkalan": "004"}


def flat(text: str) -> str:
    """The words of a text, without the seed's HTML and line breaks."""
    return " ".join(re.sub(r"<[^>]+>", "", text).split())


def seed(preset: str) -> str:
    return flat((SEEDS / f"{SEED_OF[preset]}-{preset}.txt").read_text(encoding="utf-8"))


def quotes(text: str) -> list[str]:
    """The pieces of a field that quote the seed: joined with "; " or as whole sentences."""
    return [p for part in text.split("; ") for p in re.split(r"(?<=\.) (?=[A-Z])", part)]


# -- every quotation of a seed is the seed's own words ----------------------------------------
def quoted_fields(wf):
    """(key, text) of each field that says it quotes the SOP: a step with the SOP's time
    quotes its activity, time and remark; the intake likewise; service times; the notes."""
    if wf.intake.sop_time:
        yield "intake.step_id", wf.intake.step_id
        yield "intake.sop_time", wf.intake.sop_time
    for name, st in wf.states.items():
        if st.sop_time:
            yield f"states.{name}.step_id", st.step_id
            yield f"states.{name}.sop_time", st.sop_time
        if st.sop_note:
            yield f"states.{name}.sop_note", st.sop_note
    for c in wf.categories:
        if c.service_time:
            yield f"categories.{c.id}.service_time", c.service_time
    if wf.workflow.notes_id:
        yield "workflow.notes_id", wf.workflow.notes_id


@pytest.mark.parametrize("preset", sorted(SEED_OF))
def test_each_quotation_is_the_seeds_own_words(preset):
    words = seed(preset)
    fields = list(quoted_fields(load_workflow(preset)))
    assert fields
    for key, text in fields:
        for piece in quotes(text):
            assert flat(piece) in words, (preset, key, piece)


# -- whoever a stage names can act in it ----------------------------------------------------
@pytest.mark.parametrize("preset", preset_names())
def test_every_actor_of_a_stage_has_a_way_out_of_it(preset):
    wf = load_workflow(preset)
    for name, st in wf.states.items():
        for role in st.actors:
            assert any(role in tr.roles for tr in wf.transitions_from(name)), (preset, name, role)


def test_bengkulu_step_5_is_the_petugas_layanan_s_and_the_walk_in_desk_is_the_resepsionis_s():
    wf = load_workflow("bps-bengkulu")
    received = wf.states["received"]
    assert received.step_id.startswith("Petugas layanan menerima pengaduan") and received.sop_time == "1 jam"
    assert received.actors == ("petugas_layanan",)
    assert wf.roles["petugas_layanan"].kind == "coordinator"  # receives every new case
    assert "Resepsionis mengarahkan pengguna layanan untuk registrasi" in wf.intake.step_id
    assert not any("resepsionis" in st.actors for st in wf.states.values())


def test_an_actor_without_a_transition_out_of_its_state_is_refused():
    text = GOOD.replace('actors = ["admin"]', 'actors = ["admin", "boss"]').replace(
        "[states.received]", '[roles.boss]\nlabel_id = "Kepala"\nlabel_en = "Head"\nkind = "leadership"\n\n'
        "[states.received]")
    with pytest.raises(WorkflowError, match=r"states\.received\.actors: 'boss' acts in 'received' but no "
                                            r"transition out of it allows 'boss'"):
        parse_workflow(text)


# -- pst-sorong: a complaint about a consultation closes on the national clock -----------------
def test_pst_sorong_closes_a_consultation_complaint_after_10_working_days_not_7_days():
    wf = load_workflow("pst-sorong")
    cal = OfficeCalendar(wf.workflow.timezone)
    for cat in wf.categories:
        assert sla_text(wf, wf.categories, "answered", cat.id) == "10 working days", cat.id
    answered = StageClock(parse_sla(sla_text(wf, wf.categories, "answered", "konsultasi")), wit(2025, 3, 27, 10, 0))
    # not Thu 3 April (a cuti bersama day, 7 calendar days on): Nyepi, Idul Fitri and their
    # cuti bersama, and Good Friday are skipped
    assert answered.due(cal) == wit(2025, 4, 22, 16, 0)
    assert wf.states["answered"].on_breach.trigger == "auto_close"
    consultation = next(c for c in wf.categories if c.id == "konsultasi")
    assert "maksimal 3 (tiga) hari kerja" in consultation.service_time  # kept as information


# -- a range reminds at its lower bound ---------------------------------------------------------
@pytest.mark.parametrize("state, start, lower_due", [
    # Mon 3 Mar 2025 10.00: "1 – 3 Hari" is reminded at the close of working day 1 (Tue 4
    # Mar 16.00), not at 34% of the office time (Tue 4 Mar 09.43)
    ("verifying", wib(2025, 3, 3, 10, 0), wib(2025, 3, 4, 16, 0)),
    # "5 – 10 Hari" at the close of working day 5
    ("at_opd", wib(2025, 3, 3, 10, 0), wib(2025, 3, 10, 16, 0)),
])
def test_a_range_is_reminded_when_its_lower_bound_falls_due(state, start, lower_due):
    wf = load_workflow("bangkalan")
    st, cal = wf.states[state], OfficeCalendar("Asia/Jakarta")
    clock = StageClock(parse_sla(st.sla), start)
    lower = min(f for f in st.thresholds(st.sla))
    assert clock.threshold_at(cal, lower) == lower_due == cal.due(start, parse_sla(st.sla_min))
    assert clock.threshold_at(cal, 1.0) == clock.due(cal) == cal.due(start, parse_sla(st.sla))


def test_a_lower_bound_must_be_below_the_sla_in_its_units():
    text = GOOD
    assert parse_workflow(text.replace('sla = "3 working days"', 'sla = "3 working days"\nsla_min = "1 working day"')
                          ).states["received"].thresholds("3 working days") == (1 / 3, 0.5, 0.8, 1.0)
    for bad in ('"3 working days"', '"2 working hours"', '"1 day"'):
        with pytest.raises(WorkflowError, match=r"states\.received\.sla_min: .* is not a lower bound"):
            parse_workflow(text.replace('sla = "3 working days"', f'sla = "3 working days"\nsla_min = {bad}'))


# -- the Ombudsman message quotes the workflow's own escalation time --------------------------
@pytest.mark.parametrize("lang, figure", [("id", "30 hari kerja"), ("en", "30 working days")])
def test_the_escalation_messages_quote_the_workflows_figure(lang, figure):
    text = GOOD + '[escalation]\nafter = "30 working days"\nnotify = ["admin"]\nfollowed_up = ["closed"]\n'
    e = parse_workflow(text).escalation
    for key in ("notify.ombudsman", "remind.escalated"):
        message = t(lang, key, ticket="ADU-1", after=e.after_label(lang))
        assert figure in message and "60" not in message, (key, message)


# -- README's preset table names the stages and clocks `workflow show` prints ---------------------
def readme_rows() -> dict[str, str]:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Workflow presets", 1)[1]
    rows = {}
    for line in section.split("\n## ", 1)[0].splitlines():
        if m := re.match(r"\| `([a-z0-9-]+)`[^|]*\|[^|]*\| (.*) \|$", line):
            rows[m[1]] = m[2]
    return rows


def test_the_readme_table_has_a_row_per_preset():
    assert sorted(readme_rows()) == preset_names()


@pytest.mark.parametrize("preset", preset_names())
def test_the_readme_row_names_the_stages_in_order_with_their_clocks(preset):
    wf, row = load_workflow(preset), readme_rows()[preset]
    named = re.findall(r"`([a-z_]+)`([^`]*)", row)
    order = state_order(wf)  # what `workflow show` lists, in its order
    assert [n for n, _ in named if not wf.states[n].final] == [s for s in order if not wf.states[s].final]
    assert sorted(n for n, _ in named) == sorted(wf.states)  # and every end
    for name, after in named:
        if not wf.states[name].final:
            assert after.startswith(" " + sla_core(wf.states[name])), (preset, name, after)
    if wf.escalation:
        assert f"{wf.escalation.after} without a follow-up" in row
