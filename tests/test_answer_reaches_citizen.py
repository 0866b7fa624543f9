"""The unit's answer reaches the citizen before they are asked whether it solved the
problem, in every preset: officers act with their chat commands, the citizen reads the
update, /status and its history, then answers with the buttons the bot sent them."""
import pytest

from flows.presets import preset_names
from flows.workflow import parse_workflow
from flows.errors import WorkflowError
from storage.db import transaction
from storage.officers import invite
from storage.units import add_unit
from tests.chat import Chat, link_webchat
from tests.conftest import wib
from tests.test_officer_commands import new_case
from tests.test_officer_walkthrough import paths_to_every_state
from tests.test_workflow_engine import GOOD

NOW = wib(2025, 4, 8, 9, 0)
QUESTION = "Apakah masalah Anda sudah selesai?"


def enrol_all(runtime, wf):
    """One named officer per role, each enrolled from their own chat."""
    chats = {}
    for n, (role, d) in enumerate(wf.roles.items()):
        with transaction(runtime.sessions) as s:
            officer, code = invite(s, wf, role, "KEU" if wf.unit_bound(role) else None,
                                   name=f"Petugas {n}", now=NOW)
        chat = Chat(runtime, chat_id=f"w-{role}")
        code = link_webchat(Chat(runtime, channel="telegram", chat_id=f"t-{role}"), code)
        assert chat.say(f"/petugas {code}")[0].startswith("Anda terdaftar sebagai petugas")
        chat.officer = officer.name, d.label_id
        chats[role] = chat
    return chats


def buttons(payload):
    return [b["payload"] for row in payload.get("buttons") or () for b in row]


@pytest.mark.parametrize("preset", preset_names())
def test_the_answer_comes_before_the_verdict_question(make_runtime, preset):
    runtime = make_runtime(clock=lambda: NOW, workflow={"preset": preset})
    wf = runtime.workflow
    with transaction(runtime.sessions) as s:
        add_unit(s, "KEU", "Bagian Keuangan")
    officers = enrol_all(runtime, wf)
    citizen, ticket = new_case(runtime)
    citizen.pop()
    verdict_state = next(s for s in wf.states if wf.awaits_verdict(s))
    answer = f"Jawaban unit ({preset}): data sudah kami perbarui di situs pada 10 April."
    answered_by = None
    for tr, role in paths_to_every_state(wf)[verdict_state]:
        assert role != "citizen", tr.trigger  # officers alone bring the case to the answer
        arg = {"unit": " keu"}.get(tr.needs, "")  # typed as officers type it: any case
        if tr.needs == "note":
            arg = f" {answer}" if wf.answers(tr) else " Catatan internal petugas"
            answered_by = officers[role].officer if wf.answers(tr) else answered_by
        reply = officers[role].say(f"/{tr.command} {ticket}{arg}")
        assert reply[0].startswith(f"✓ {ticket}"), (preset, tr.trigger, reply)

    updates = citizen.pop()
    asking = [u for u in updates if QUESTION in u["text"]]
    assert len(asking) == 1, [u["text"] for u in updates]
    text = asking[0]["text"]
    assert f"Tanggapan: {answer}" in text and text.index(answer) < text.index(QUESTION), text
    # the first update that carries the answer comes no later than the question
    first = next(u for u in updates if answer in u["text"])
    assert updates.index(first) <= updates.index(asking[0])

    status = "\n".join(citizen.say(f"/status {ticket}"))
    assert answer in status.split("Riwayat:")[1], status
    officers[next(iter(wf.roles))].say(f"/kasus {ticket}")
    card = officers[next(iter(wf.roles))].last[0]["text"]
    name, role_label = answered_by
    assert answer in card and f"— {name} ({role_label})" in card, card

    # the citizen answers with the buttons they were sent; the answerer hears the verdict
    solved = next(p for p in buttons(asking[0]) if p.startswith("c|accept|"))
    rate = citizen.say(button=solved)
    assert rate and "rate|4" in buttons(citizen.last[-1])
    citizen.say(button="rate|4")
    citizen.say("Terima kasih, cepat sekali.")
    answerer = next(c for c in officers.values() if c.officer == answered_by)
    heard = [p["text"] for p in answerer.pop()]
    assert f"Pelapor menyatakan {ticket} selesai dan memberi nilai 4 dari 5; kasus ditutup.\n" \
           "Komentar pelapor: “Terima kasih, cepat sekali.”" in heard, heard
    answerer.say(f"/kasus {ticket}")
    assert "Penilaian pelapor: selesai, nilai 4 dari 5\n  Terima kasih, cepat sekali." in answerer.last[0]["text"]


VERDICT = GOOD.replace('''[[transitions]]
trigger = "close"''', '''[states.answered]
label_id = "Dijawab"
label_en = "Answered"
actors = ["citizen"]
sla = "10 working days"

[[transitions]]
trigger = "answer"
source = "received"
dest = "answered"
roles = ["admin"]
label_id = "Jawab"
label_en = "Answer"
needs = "note"
note_public = true

[[transitions]]
trigger = "accept"
source = "answered"
dest = "closed"
roles = ["citizen"]
label_id = "Terima"
label_en = "Accept"

[[transitions]]
trigger = "close"''')


def test_a_workflow_that_asks_the_verdict_before_an_answer_is_refused():
    parse_workflow(VERDICT)  # the answer, then the verdict: fine
    for old, new, key, problem in [
        ("note_public = true", "note_public = false", "states.answered",
         "the citizen may accept here without having seen an answer: 'answer' from received"),
        ('label_en = "Answered"', 'label_en = "Answered"\ncitizen_visible = false', "transitions[0].dest",
         "'answer' gives the citizen a public note but 'answered' is not citizen_visible"),
    ]:
        with pytest.raises(WorkflowError) as err:
            parse_workflow(VERDICT.replace(old, new, 1))
        assert f"{key}: {problem}" in str(err.value)


def test_an_answer_a_step_before_the_verdict_is_enough():
    """bps-kaltim's shape: /jawab (public), then the admin's /selesai without a note."""
    two_steps = VERDICT.replace('''dest = "answered"
roles = ["admin"]
label_id = "Jawab"''', '''dest = "recording"
roles = ["admin"]
label_id = "Jawab"''').replace('''[states.answered]''', '''[states.recording]
label_id = "Dicatat"
label_en = "Recording"
actors = ["admin"]
sla = "1 working hour"

[[transitions]]
trigger = "complete"
source = "recording"
dest = "answered"
roles = ["admin"]
label_id = "Selesai"
label_en = "Complete"

[states.answered]''')
    parse_workflow(two_steps)
    with pytest.raises(WorkflowError, match="'complete' from recording brings no public text"):
        parse_workflow(two_steps.replace("note_public = true", "note_public = false"))


def test_a_transition_command_may_not_shadow_a_fixed_command():
    with pytest.raises(WorkflowError, match=r"transitions\[0\]\.command_en: /start is a fixed command"):
        parse_workflow(GOOD.replace('label_en = "Close"', 'label_en = "Close"\ncommand = "tutup"\n'
                                                          'command_en = "start"'))


def test_the_reserved_commands_are_the_chats_fixed_commands():
    """A fixed command added to a conversation must be reserved against workflows too."""
    from flows.workflow import RESERVED_COMMANDS
    from handlers import citizen
    from handlers.officer import FIXED

    fixed = set(FIXED)
    for name in ("CANCEL", "START", "HELP", "LANGUAGE", "FILE", "STATUS", "ADD", "INFO", "OFFICER", "SURVEY"):
        fixed |= set(getattr(citizen, name))
    assert fixed <= RESERVED_COMMANDS, fixed - RESERVED_COMMANDS
