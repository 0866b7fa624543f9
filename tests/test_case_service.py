"""The case service on SQLite and PostgreSQL: tickets, events, locking, bad input."""
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from flows.calendar import OfficeCalendar
from flows.case_fields import ActorType
from flows.errors import InvalidTransition, RoleNotAllowed
from flows.presets import load_workflow
from flows.workflow import CategoryDef
from storage.db import transaction
from storage.cases import CITIZEN, Actor, CaseService
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import Case, CaseEvent, Deadline
from storage.units import add_unit
from tests.conftest import wib

WF = load_workflow("sp4n-lapor")
CAL = OfficeCalendar("Asia/Jakarta")
ADMIN_1 = Actor(ActorType.OFFICER, "admin", id=1)
ADMIN_2 = Actor(ActorType.OFFICER, "admin", id=2)


@pytest.fixture
def service():
    return CaseService(WF, CAL)


def open_one(sessions, service, **kw):
    args = dict(kind="pengaduan", text="Lampu jalan mati", channel="whatsapp", now=wib(2025, 4, 8, 9, 0))
    args.update(kw)
    with transaction(sessions) as s:
        return service.open_case(s, **args).ticket


def count(sessions, model):
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_tickets_count_per_year_in_office_time(sessions, service):
    assert open_one(sessions, service) == "ADU-2025-000001"
    assert open_one(sessions, service) == "ADU-2025-000002"
    # 31 Dec 2025 17.30 UTC is already 1 Jan 2026 in WIB
    assert open_one(sessions, service, now=datetime(2025, 12, 31, 17, 30, tzinfo=timezone.utc)) \
        == "ADU-2026-000001"
    prefixed = CaseService(WF, CAL, ticket_prefix="BPS")
    assert open_one(sessions, prefixed) == "BPS-2025-000003"


def test_opening_writes_the_event_and_the_clocks(sessions, service):
    ticket = open_one(sessions, service)
    with sessions() as s:
        case = service.get(s, ticket.lower(), full=True)  # lookups forgive case
        assert case.state == "received" and case.version == 1
        assert [(e.action, e.to_state, e.actor_type) for e in case.events] == [("open", "received", "citizen")]
        assert sorted(d.kind for d in case.deadlines) == ["escalation", "stage"]


@pytest.mark.parametrize("kw, message", [
    (dict(kind="keluhan"), "kind 'keluhan' is not one of"),
    (dict(privacy="publik"), "privacy 'publik'"),
    (dict(channel="fax"), "channel 'fax'"),
    (dict(text="   "), "empty"),
    (dict(text="x" * 9000), "9000 characters; at most 8000"),
])
def test_bad_input_writes_nothing(sessions, service, kw, message):
    with pytest.raises(InvalidInput, match=message):
        open_one(sessions, service, **kw)
    assert count(sessions, Case) == 0 and count(sessions, CaseEvent) == 0 and count(sessions, Deadline) == 0


def test_categories_are_checked_and_override_slas(sessions):
    cats = (CategoryDef(id="infrastruktur", label_id="Infrastruktur", label_en="Infrastructure",
                        sla={"in_progress": "60 working days"}),
            CategoryDef(id="layanan", label_id="Layanan", label_en="Service"))
    service = CaseService(WF, CAL, categories=cats)
    with pytest.raises(InvalidInput, match="category 'jalan' is not one of: infrastruktur, layanan"):
        open_one(sessions, service, category="jalan")
    ticket = open_one(sessions, service, category="infrastruktur")
    with transaction(sessions) as s:
        add_unit(s, "PU", "Pekerjaan Umum")
        service.fire(s, ticket, "dispose", ADMIN_1, unit_code="PU", now=wib(2025, 4, 8, 10, 0))
        case = service.fire(s, ticket, "start", Actor(ActorType.OFFICER, "unit_officer", 5),
                            now=wib(2025, 4, 9, 8, 0))
        assert service.open_deadline(s, case).sla == "60 working days"


def test_every_change_is_an_event_with_actor_and_note(sessions, service):
    ticket = open_one(sessions, service)
    with transaction(sessions) as s:
        service.fire(s, ticket, "reject", ADMIN_1, note="Bukan pengaduan", now=wib(2025, 4, 8, 11, 0))
    with sessions() as s:
        case = service.get(s, ticket, full=True)
        last = case.events[-1]
        assert (last.action, last.from_state, last.to_state, last.actor_id, last.actor_role, last.note) == \
            ("reject", "received", "rejected", 1, "admin", "Bukan pengaduan")
        assert case.closed_at == wib(2025, 4, 8, 11, 0) and case.version == 2
        assert all(d.completed_at for d in case.deadlines if d.kind == "stage")


@pytest.mark.parametrize("trigger, actor, kw, error, message", [
    ("verify", CITIZEN, {}, RoleNotAllowed, "role 'citizen' may not verify"),
    ("answer", ADMIN_1, {}, InvalidTransition, "cannot answer"),
    ("reject", ADMIN_1, {}, InvalidInput, "needs a note"),
    ("reject", ADMIN_1, {"note": "  "}, InvalidInput, "needs a note"),
    ("dispose", ADMIN_1, {}, InvalidInput, "needs a unit code"),
    ("dispose", ADMIN_1, {"unit_code": "XYZ"}, NotFound, "no unit 'XYZ'"),
])
def test_refusals_leave_the_case_untouched(sessions, service, trigger, actor, kw, error, message):
    ticket = open_one(sessions, service)
    with pytest.raises(error, match=message):
        with transaction(sessions) as s:
            service.fire(s, ticket, trigger, actor, **kw)
    with sessions() as s:
        case = service.get(s, ticket, full=True)
        assert case.state == "received" and case.version == 1 and len(case.events) == 1


def test_unknown_ticket(sessions, service):
    with pytest.raises(NotFound, match="no case 'ADU-2025-999999'"):
        with transaction(sessions) as s:
            service.fire(s, "ADU-2025-999999", "verify", ADMIN_1)


def test_unit_bound_officers_act_only_on_their_units_cases(sessions, service):
    ticket = open_one(sessions, service)
    with transaction(sessions) as s:
        pu, keu = add_unit(s, "PU", "Pekerjaan Umum"), add_unit(s, "KEU", "Keuangan")
        service.fire(s, ticket, "dispose", ADMIN_1, unit_code="PU")
    with pytest.raises(RoleNotAllowed, match="not a case of this officer.s unit"):
        with transaction(sessions) as s:
            service.fire(s, ticket, "start", Actor(ActorType.OFFICER, "unit_officer", 7, keu.id))
    with transaction(sessions) as s:
        assert service.fire(s, ticket, "start", Actor(ActorType.OFFICER, "unit_officer", 8, pu.id)).state \
            == "in_progress"


def test_a_stale_version_is_a_conflict_naming_who_acted(sessions, service):
    ticket = open_one(sessions, service)
    with sessions() as s:
        seen = service.get(s, ticket).version  # both officers looked at version 1
    with transaction(sessions) as s:
        service.fire(s, ticket, "verify", ADMIN_1, expected_version=seen)
    with pytest.raises(Conflict) as err:
        with transaction(sessions) as s:
            service.fire(s, ticket, "reject", ADMIN_2, note="spam", expected_version=seen)
    assert err.value.actor == "officer #1 (admin)" and err.value.state == "verified"
    assert "just changed by officer #1 (admin); it is now 'Verified' (verified)" in str(err.value)


def test_two_officers_racing_one_wins(sessions, service):
    """Both saw version 1 on their case card and act at once: one wins, one is told."""
    ticket = open_one(sessions, service)
    with sessions() as s:
        seen = service.get(s, ticket).version
    sqlite = sessions.kw["bind"].dialect.name == "sqlite"
    # PostgreSQL: both transactions read the case, then both write; the loser's
    # UPDATE ... WHERE version = 1 waits for the winner's commit and then matches no
    # row. SQLite serializes write transactions (BEGIN IMMEDIATE), so there the loser
    # reads the winner's version; a barrier would only deadlock.
    barrier = threading.Barrier(1 if sqlite else 2)
    results = {}

    def act(actor, trigger, note):
        try:
            with transaction(sessions) as s:
                service.get(s, ticket)
                barrier.wait(timeout=10)
                service.fire(s, ticket, trigger, actor, note=note, expected_version=seen)
            results[actor.id] = "won"
        except Exception as exc:
            results[actor.id] = exc

    threads = [threading.Thread(target=act, args=(ADMIN_1, "verify", None)),
               threading.Thread(target=act, args=(ADMIN_2, "reject", "spam"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    outcomes = sorted(results.values(), key=lambda v: v != "won")
    assert outcomes[0] == "won" and isinstance(outcomes[1], Conflict), results
    assert "it is now" in str(outcomes[1])
    with sessions() as s:
        case = service.get(s, ticket, full=True)
        assert case.version == 2 and len(case.events) == 2


def test_list_and_overdue(sessions, service):
    t1 = open_one(sessions, service, now=wib(2025, 4, 8, 9, 0))  # due 11 Apr 16.30
    open_one(sessions, service, now=wib(2025, 4, 14, 9, 0))  # due 17 Apr 16.00
    with sessions() as s:
        assert [c.ticket for c in service.list(s, overdue=True, now=wib(2025, 4, 14, 9, 0))] == [t1]
        assert len(service.list(s, state="received")) == 2 and service.list(s, state="closed") == []


def test_dialect_keeps_utc(sessions, service):
    ticket = open_one(sessions, service, now=wib(2025, 4, 8, 9, 0))
    with sessions() as s:
        case = service.get(s, ticket)
        assert case.created_at == datetime(2025, 4, 8, 2, 0, tzinfo=timezone.utc)
        assert case.created_at.tzinfo == timezone.utc


def deadlines_of(sessions, ticket, kind):
    with sessions() as s:
        case = s.scalar(select(Case).where(Case.ticket == ticket))
        return s.scalars(select(Deadline).where(Deadline.case_id == case.id, Deadline.kind == kind)
                         .order_by(Deadline.id)).all()


def test_a_clock_stopped_while_paused_keeps_its_pause(sessions, service):
    ticket = open_one(sessions, service, now=wib(2025, 4, 8, 9, 0))  # due Fri 11 Apr 16.30
    with transaction(sessions) as s:
        service.fire(s, ticket, "request_info", ADMIN_1, note="Foto?", now=wib(2025, 4, 9, 9, 0))
        service.fire(s, ticket, "archive_incomplete", Actor(ActorType.SYSTEM, "system"),
                     now=wib(2025, 4, 24, 9, 0))
    verification = deadlines_of(sessions, ticket, "stage")[0]
    assert verification.stage == "received" and verification.paused_at is None
    assert verification.completed_at <= verification.due_at  # one day used of three: met
    assert verification.next_remind_at is None


def test_the_escalation_watch_pauses_for_the_citizen_and_restarts_on_reopening(sessions, service):
    ticket = open_one(sessions, service, now=wib(2025, 3, 27, 15, 45))
    first = deadlines_of(sessions, ticket, "escalation")[0]
    assert first.due_at == wib(2025, 7, 11, 16, 30)
    with transaction(sessions) as s:
        add_unit(s, "PU", "Pekerjaan Umum")
        service.fire(s, ticket, "request_info", ADMIN_1, note="?", now=wib(2025, 4, 8, 7, 30))
        service.fire(s, ticket, "provide_info", CITIZEN, now=wib(2025, 4, 9, 7, 30))  # one day paused
    assert deadlines_of(sessions, ticket, "escalation")[0].due_at == wib(2025, 7, 14, 16, 0)
    officer = Actor(ActorType.OFFICER, "unit_officer", 9)
    with transaction(sessions) as s:
        service.fire(s, ticket, "dispose", ADMIN_1, unit_code="PU", now=wib(2025, 4, 9, 9, 0))
        service.fire(s, ticket, "start", officer, now=wib(2025, 4, 9, 10, 0))
        service.fire(s, ticket, "answer", officer, note="Selesai", now=wib(2025, 4, 10, 10, 0))
    rows = deadlines_of(sessions, ticket, "escalation")
    assert len(rows) == 1 and rows[0].completed_at == wib(2025, 4, 10, 10, 0)
    with transaction(sessions) as s:
        service.fire(s, ticket, "not_resolved", CITIZEN, note="Belum", now=wib(2025, 4, 14, 9, 0))
    rows = deadlines_of(sessions, ticket, "escalation")
    assert len(rows) == 2 and rows[1].completed_at is None
    assert rows[1].started_at == wib(2025, 4, 14, 9, 0)


def test_a_range_stage_is_first_reminded_when_its_lower_bound_falls_due(sessions):
    """Bangkalan's "1 – 3 Hari": the clock's first reminder is the close of working day 1."""
    service = CaseService(load_workflow("bangkalan"), CAL)
    ticket = open_one(sessions, service, now=wib(2025, 3, 3, 10, 0))
    with transaction(sessions) as s:
        case = service.fire(s, ticket, "receive", Actor(ActorType.OFFICER, "admin_koordinator", id=1),
                            now=wib(2025, 3, 3, 10, 2))
        clock = service.open_deadline(s, case)
        assert clock.stage == "verifying" and clock.thresholds == [1 / 3, 0.8, 1.0]
        assert clock.next_remind_at == wib(2025, 3, 4, 16, 0) and clock.due_at == wib(2025, 3, 6, 16, 0)
