"""Officers and citizens read labels, names and their own language, never the ids the
workflow and the audit trail store ("received", "verify", "admin#1", English errors)."""
import pytest

from flows.presets import load_workflow, preset_names
from storage.db import transaction
from storage.officers import invite
from storage.units import add_unit
from tests.chat import Chat, link_webchat
from tests.conftest import wib
from tests.test_officer_commands import new_case

NOW = wib(2025, 4, 8, 9, 0)


@pytest.fixture
def runtime(make_runtime):
    rt = make_runtime(clock=lambda: NOW)
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Bagian Keuangan")
        add_unit(s, "PU", "Pekerjaan Umum")
    return rt


def enrol(runtime, role, name=None, unit=None, hint=None):
    with transaction(runtime.sessions) as s:
        officer, code = invite(s, runtime.workflow, role, unit, name=name, now=NOW)
    chat = Chat(runtime, chat_id=f"w-{role}-{name}", language_hint=hint)
    code = link_webchat(Chat(runtime, channel="telegram", chat_id=f"t-{role}-{name}", language_hint=hint), code)
    chat.say(f"/petugas {code}")
    chat.officer_id = officer.id
    return chat


def test_the_card_speaks_in_labels_and_names(runtime):
    admin = enrol(runtime, "admin", "Budi")
    citizen, ticket = new_case(runtime)
    admin.say(f"/verifikasi {ticket}")
    admin.say(f"/catatan {ticket} Sudah ditelepon")
    admin.say(f"/kasus {ticket}")
    card = admin.last[0]["text"]
    assert "Tenggat Terverifikasi: Jumat, 11 April 2025 pukul 16.30 WIB" in card  # the stage label
    assert "— Pengaduan masuk — pelapor" in card
    assert "— Verifikasi — Budi (Admin Instansi)" in card
    assert "— Catatan internal 🔒 — Budi (Admin Instansi)" in card
    assert "Kanal: web chat" in card and "Kategori" not in card  # no categories at this office
    for internal in ("received", "verified", "verify", "admin#", "(citizen)", "webchat", "open ("):
        assert internal not in card, internal


def test_storage_errors_reach_the_officer_in_their_language(runtime):
    admin = enrol(runtime, "admin", "Budi")
    english = enrol(runtime, "admin", "Ani", hint="en")
    _, ticket = new_case(runtime)
    assert admin.say(f"/disposisi {ticket} ipds") == \
        ["Tidak dapat diproses: tidak ada unit “ipds”. Unit yang ada: KEU, PU"]
    assert english.say(f"/dispose {ticket} ipds") == \
        ["Could not be done: there is no unit “ipds”. Units: KEU, PU"]
    assert admin.say(f"/disposisi {ticket} keu")[0].startswith(f"✓ {ticket}: Disposisi ke unit kerja")


def test_start_is_never_a_transition(runtime):
    """sp4n-lapor's "start work" was /start in English: the citizen's and officers' /start."""
    admin = enrol(runtime, "admin", "Budi")
    unit = enrol(runtime, "unit_officer", "Sari", "KEU", hint="en")
    _, ticket = new_case(runtime)
    admin.say(f"/disposisi {ticket} KEU")
    assert unit.say(f"/start {ticket}")[0].startswith("Commands for Unit officer:")
    assert "/proses (/process) NUMBER" in unit.say("/help")[0]
    assert unit.say(f"/process {ticket}")[0] == f"✓ {ticket}: Start work. Now: In progress."


def test_the_citizen_is_told_what_a_stage_means_for_them(runtime):
    admin = enrol(runtime, "admin", "Budi")
    citizen, ticket = new_case(runtime)
    admin.say(f"/verifikasi {ticket}")
    admin.say(f"/disposisi {ticket} KEU")
    verified, update = [p["text"] for p in citizen.pop()]
    assert verified.startswith(f"Status pengaduan {ticket}: Terverifikasi.\n"
                               "Laporan Anda sudah diverifikasi: lengkap dan menjadi wewenang kami.")
    assert update.startswith(f"Status pengaduan {ticket}: Belum Ditindaklanjuti.\n"
                             "Laporan Anda sudah diverifikasi dan diteruskan ke unit kerja yang berwenang; "
                             "unit itu belum mulai menindaklanjutinya.\n")
    assert "Laporan Anda sudah diverifikasi" in "\n".join(citizen.say(f"/status {ticket}"))


@pytest.mark.parametrize("preset", preset_names())
def test_every_stage_the_citizen_sees_is_explained_in_both_languages(preset):
    wf = load_workflow(preset)
    for name, st in wf.states.items():
        if st.citizen_visible and not st.final:
            assert st.explain_id and st.explain_en, (preset, name)
