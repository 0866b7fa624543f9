"""Every preset, from its first state to a final state, with the SOP's roles; each
stage's due time is checked against a date counted by hand on the 2025 calendar
(holidays and cuti bersama of SKB 2025, office hours and time zone of the preset)."""
import pytest

from bot.config import Settings
from flows.case_fields import ActorType
from flows.presets import load_workflow
from storage.db import transaction
from storage.cases import CITIZEN, SYSTEM, Actor, CaseService
from storage.models import Deadline
from storage.units import add_unit
from tests.conftest import wib, wit, wita

# (trigger, role, at, extra, state after, due time of that state's clock or None)
WALKS = {
    "sp4n-lapor": dict(
        opened=wib(2025, 3, 27, 15, 45), first_due=wib(2025, 4, 10, 16, 0),
        escalation_due=wib(2025, 7, 11, 16, 30),
        steps=[
            ("verify", "admin", wib(2025, 4, 8, 9, 0), {}, "verified", wib(2025, 4, 10, 16, 0)),
            ("request_info", "admin", wib(2025, 4, 8, 10, 0), {"note": "Lampirkan foto"},
             "needs_info", wib(2025, 4, 23, 16, 0)),
            # resumes the verification clock: 6 h of Tue and 2.5 h of Wed paused, one working
            # day's share, move it one working day, to Friday's closing time
            ("provide_info", "citizen", wib(2025, 4, 9, 10, 0), {}, "received", wib(2025, 4, 11, 16, 30)),
            ("dispose", "admin", wib(2025, 4, 10, 9, 0), {"unit_code": "KEU"}, "disposed",
             wib(2025, 4, 17, 16, 0)),
            ("start", "unit_officer", wib(2025, 4, 14, 8, 0), {}, "in_progress", wib(2025, 4, 29, 16, 0)),
            ("answer", "unit_officer", wib(2025, 4, 25, 14, 0), {"note": "Sudah diperbaiki"},
             "answered", wib(2025, 5, 14, 16, 0)),
            ("auto_close", "system", wib(2025, 5, 15, 8, 0), {}, "closed", None),
        ]),
    "bps-babel": dict(
        opened=wib(2025, 6, 2, 10, 0), first_due=wib(2025, 6, 5, 16, 0),
        escalation_due=None,
        steps=[
            ("verify", "petugas_pengaduan", wib(2025, 6, 4, 11, 0), {}, "checking_availability",
             wib(2025, 6, 11, 16, 0)),  # 6 Jun Idul Adha, 9 Jun cuti bersama
            ("confirm_available", "tim_teknis", wib(2025, 6, 10, 9, 0), {}, "drafting_answer",
             wib(2025, 6, 17, 16, 0)),
            ("draft_answer", "tim_teknis", wib(2025, 6, 16, 13, 0), {"note": "Data tersedia di web"},
             "answer_ready", wib(2025, 6, 17, 16, 0)),
            ("answer", "petugas_pengaduan", wib(2025, 6, 17, 9, 0), {"note": "Data tersedia di web"},
             "answered", wib(2025, 7, 2, 16, 0)),  # 27 Jun Tahun Baru Islam
            ("accept", "citizen", wib(2025, 6, 19, 10, 0), {}, "closed", None),
        ]),
    "bps-bengkulu": dict(  # service hours Mon-Thu 08.00-15.30, Fri 08.00-16.00
        opened=wib(2025, 5, 8, 17, 0), first_due=wib(2025, 5, 9, 9, 0),  # after hours: 1 h from Fri 08.00
        escalation_due=None,
        steps=[
            ("receive", "petugas_layanan", wib(2025, 5, 9, 9, 30), {}, "in_review",
             wib(2025, 5, 27, 15, 30)),  # 12 May Waisak, 13 May cuti bersama
            ("to_leadership", "petugas_layanan", wib(2025, 5, 19, 10, 0), {"note": "Perlu keputusan"},
             "leadership_review", wib(2025, 6, 4, 15, 30)),  # 29 May Ascension, 30 May cuti
            ("leadership_done", "pimpinan", wib(2025, 5, 27, 10, 0), {"note": "Disetujui"},
             "result_ready", wib(2025, 6, 4, 15, 30)),  # runs on the leadership clock
            ("answer", "petugas_layanan", wib(2025, 5, 28, 9, 0), {"note": "Hasil tindak lanjut"},
             "answered", wib(2025, 6, 17, 15, 30)),
            ("accept", "citizen", wib(2025, 5, 28, 9, 10), {}, "closed", None),
        ]),
    "bps-kaltim": dict(  # WITA
        opened=wita(2025, 1, 6, 9, 0), first_due=wita(2025, 1, 9, 16, 0),
        escalation_due=None,
        steps=[
            ("dispose_agency", "admin_nasional", wita(2025, 1, 7, 10, 0), {}, "at_agency",
             wita(2025, 1, 10, 16, 30)),
            ("verify", "admin_provinsi", wita(2025, 1, 10, 8, 0), {}, "agency_verified",
             wita(2025, 1, 17, 16, 30)),
            ("dispose_liaison", "admin_provinsi", wita(2025, 1, 13, 8, 0), {}, "at_liaison",
             wita(2025, 1, 20, 16, 0)),
            ("dispose", "pejabat_penghubung", wita(2025, 1, 15, 8, 0), {"unit_code": "KEU"}, "at_unit",
             wita(2025, 2, 3, 16, 0)),  # 27 Jan Isra Mikraj, 28 cuti, 29 Imlek
            ("answer", "unit_kerja", wita(2025, 1, 31, 15, 0), {"note": "Tanggapan"}, "completing",
             wita(2025, 1, 31, 16, 0)),  # 1 working hour
            ("complete", "admin_provinsi", wita(2025, 1, 31, 15, 30), {}, "answered",
             wita(2025, 2, 14, 16, 30)),
            ("not_resolved", "citizen", wita(2025, 2, 3, 9, 0), {"note": "Belum beres"}, "at_unit",
             wita(2025, 2, 17, 16, 0)),
            ("answer", "unit_kerja", wita(2025, 2, 4, 9, 0), {"note": "Tanggapan kedua"}, "completing",
             wita(2025, 2, 4, 10, 0)),
            ("complete", "admin_provinsi", wita(2025, 2, 4, 9, 30), {}, "answered",
             wita(2025, 2, 18, 16, 0)),
            ("accept", "citizen", wita(2025, 2, 5, 9, 0), {}, "closed", None),
        ]),
    "bangkalan": dict(
        opened=wib(2025, 10, 3, 16, 40), first_due=wib(2025, 10, 6, 7, 35),  # 5 office minutes
        escalation_due=wib(2025, 12, 31, 16, 0),  # 60 working days (25, 26 Dec skipped)
        steps=[
            ("receive", "admin_koordinator", wib(2025, 10, 6, 7, 33), {}, "verifying",
             wib(2025, 10, 9, 16, 0)),
            ("request_info", "pranata_humas", wib(2025, 10, 7, 10, 0), {"note": "Data pendukung?"},
             "needs_info", wib(2025, 10, 21, 16, 0)),
            # 6 of Tue's 8.5 office hours paused carry the due time to the next closing time
            ("provide_info", "citizen", wib(2025, 10, 8, 7, 30), {}, "verifying", wib(2025, 10, 10, 16, 30)),
            ("verify", "pranata_humas", wib(2025, 10, 9, 9, 0), {}, "verified", wib(2025, 10, 9, 9, 5)),
            ("dispose", "admin_koordinator", wib(2025, 10, 9, 9, 4), {"unit_code": "KEU"}, "disposed",
             wib(2025, 10, 9, 9, 9)),
            ("notify_liaison", "system", wib(2025, 10, 9, 9, 5), {}, "at_opd", wib(2025, 10, 23, 16, 0)),
            ("answer", "pejabat_penghubung", wib(2025, 10, 20, 11, 0), {"note": "Ditindaklanjuti"},
             "answered", wib(2025, 11, 3, 16, 0)),
            ("auto_close", "system", wib(2025, 11, 4, 7, 30), {}, "closed", None),
        ]),
    "pst-sorong": dict(  # WIT; a complaint about a consultation: the national 10 working days
        category="konsultasi",
        opened=wit(2025, 12, 18, 16, 30), first_due=wit(2025, 12, 24, 16, 0),  # 25 Natal, 26 cuti
        escalation_due=None,
        steps=[
            ("verify", "petugas_pst", wit(2025, 12, 22, 9, 0), {}, "in_progress", wit(2026, 1, 8, 16, 0)),
            ("answer", "fungsi_ipds", wit(2025, 12, 30, 10, 0), {"note": "Jawaban konsultasi"},
             "answered", wit(2026, 1, 14, 16, 0)),  # 1 Jan skipped; not the consultation chat's 7 days
            ("auto_close", "system", wit(2026, 1, 15, 8, 0), {}, "closed", None),
        ]),
}


def actor_for(wf, role: str, unit_id: int) -> Actor:
    if role == "citizen":
        return CITIZEN
    if role == "system":
        return SYSTEM
    unit = unit_id if wf.roles[role].kind == "officer" else None  # unit officers belong to a unit
    return Actor(ActorType.OFFICER, role, id=hash(role) % 1000, unit_id=unit)


@pytest.mark.parametrize("preset", sorted(WALKS))
def test_walk_every_preset_to_a_final_state(preset, sessions):
    walk = WALKS[preset]
    wf = load_workflow(preset)
    cal = Settings().calendar(wf)  # the preset's own time zone and hours
    service = CaseService(wf, cal)
    with transaction(sessions) as s:
        unit = add_unit(s, "KEU", "Bagian Keuangan")
        case = service.open_case(s, kind="pengaduan", text="Antrian terlalu lama", channel="telegram",
                                 category=walk.get("category"), now=walk["opened"])
        ticket = case.ticket
        assert service.open_deadline(s, case).due_at == walk["first_due"]
        if walk["escalation_due"]:
            esc = s.query(Deadline).filter_by(case_id=case.id, kind="escalation").one()
            assert esc.due_at == walk["escalation_due"]
    visited = {wf.initial}
    for trigger, role, at, extra, state, due in walk["steps"]:
        with transaction(sessions) as s:
            case = service.fire(s, ticket, trigger, actor_for(wf, role, unit.id), now=at, **extra)
            assert case.state == state, trigger
            open_clock = service.open_deadline(s, case)
            if due is None:
                assert open_clock is None
            else:
                assert open_clock is not None and open_clock.due_at == due, (trigger, state)
            visited.add(state)
    assert wf.states[state].final
    with transaction(sessions) as s:
        case = service.get(s, ticket, full=True)
        assert case.closed_at == walk["steps"][-1][2]
        assert [e.action for e in case.events if e.action != "note"] == ["open"] + [st[0] for st in walk["steps"]]
        assert all(d.completed_at is not None for d in case.deadlines)
    # the walk went through every non-final state of the SOP's main path
    main_path = {n for n, st in wf.states.items() if not st.final and not st.pause_clock}
    assert main_path <= visited, main_path - visited
