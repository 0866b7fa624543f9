"""The scheduler against a clock the test drives: reminders once, breaches, automatic
transitions, escalation; across restarts and with two schedulers at once."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.scheduler import Scheduler
from flows.case_fields import ActorType
from storage.cases import Actor
from storage.db import transaction
from storage.models import Case, Deadline, Outbox, Reminder
from storage.officers import invite, redeem
from storage.units import add_unit
from tests.chat import Chat
from tests.conftest import wib

ADMIN = Actor(ActorType.OFFICER, "admin", 1)


class Clock:
    def __init__(self, at):
        self.at = at

    def __call__(self):
        return self.at


@pytest.fixture
def clock():
    return Clock(wib(2025, 3, 27, 15, 45))


@pytest.fixture
def runtime(make_runtime, clock):
    rt = make_runtime(clock=clock)
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Keuangan")
        for role, chat, unit in (("admin", "w-admin", None), ("leadership", "w-boss", None),
                                 ("unit_officer", "w-unit", "KEU")):
            officer, code = invite(s, rt.workflow, role, unit, now=clock())
            redeem(s, code, "webchat", chat, now=clock())
    return rt


def core(done: dict) -> tuple:
    """Reminders and breaches of a tick (periodic digests are tested on their own)."""
    return done["reminders"], done["breaches"]


def texts(runtime, chat_id):
    with runtime.sessions() as s:
        return [r.payload["text"] for r in s.scalars(select(Outbox).where(Outbox.chat_id == chat_id)
                                                     .order_by(Outbox.id))]


def reminders(runtime):
    return [t for t in texts(runtime, "w-admin") if t.startswith("Pengingat")]


def test_50_80_100_percent_reminders_fire_once_each_across_a_restart(runtime, clock):
    Chat(runtime).file_complaint()  # Thu 27 Mar 15.45: verify by Thu 10 Apr 16.00 (3 working days)
    first = Scheduler(runtime, clock=clock)
    clock.at = wib(2025, 3, 28, 10, 0)  # cuti bersama Nyepi: nothing is due yet
    assert core(first.tick()) == (0, 0)
    # 50% of 3 working days is a day and a half after the start day's closing: all of
    # Tue 8 Apr, then half of Wed 9 Apr's 8.5 office hours, 11.45
    clock.at = wib(2025, 4, 9, 11, 40)
    assert first.tick()["reminders"] == 0
    clock.at = wib(2025, 4, 9, 11, 45)
    assert first.tick()["reminders"] == 1
    assert first.tick()["reminders"] == 0  # once
    restarted = Scheduler(runtime, clock=clock)  # a new process
    clock.at = wib(2025, 4, 10, 10, 55)  # past 80% (2.4 days: Thu 10 Apr 10.54)
    first.leader.release()
    assert restarted.tick()["reminders"] == 1
    clock.at = wib(2025, 4, 10, 16, 0)
    assert core(restarted.tick()) == (1, 1)
    assert [r.split(":")[0] for r in reminders(runtime)] == ["Pengingat (50%)", "Pengingat (80%)", "Pengingat (100%)"]
    assert "ADU-2025-000001 — tahap Belum Terverifikasi, 1 hari kerja lagi" in reminders(runtime)[0]
    boss = texts(runtime, "w-boss")
    assert any(t.startswith("Tenggat terlewati: ADU-2025-000001") for t in boss)  # on_breach notify
    clock.at += timedelta(days=3)
    assert core(restarted.tick()) == (0, 0)


def test_a_scheduler_that_was_down_sends_one_reminder_not_three(runtime, clock):
    Chat(runtime).file_complaint()
    clock.at = wib(2025, 4, 11, 9, 0)  # everything passed while nobody looked
    assert core(Scheduler(runtime, clock=clock).tick()) == (1, 1)
    assert [r.split(":")[0] for r in reminders(runtime)] == ["Pengingat (100%)"]
    with runtime.sessions() as s:
        assert sorted((r.threshold, r.status) for r in s.scalars(select(Reminder))) == \
            [(0.5, "suppressed"), (0.8, "suppressed"), (1.0, "sent")]


def test_two_schedulers_at_once_fire_each_reminder_once(runtime, clock):
    Chat(runtime).file_complaint()
    clock.at = wib(2025, 4, 9, 12, 0)
    one, two = Scheduler(runtime, clock=clock), Scheduler(runtime, clock=clock)
    assert one.tick()["reminders"] == 1
    assert core(two.tick()) == (0, 0)  # not the leader
    # Without the leader lock (Redis down) the unique key still holds.
    two.leader.acquire = two.leader.renew = lambda: (_ for _ in ()).throw(ConnectionError())
    clock.at = wib(2025, 4, 10, 10, 55)  # past 80%
    results = [two.tick()["reminders"], one.tick()["reminders"]]
    assert sorted(results) == [0, 1]
    assert len(reminders(runtime)) == 2


def test_a_tick_claims_a_batch_in_one_go_and_skips_what_was_claimed_elsewhere(runtime, clock):
    tickets = [Chat(runtime, chat_id=f"w-{n}").file_complaint() for n in range(5)]
    with transaction(runtime.sessions) as s:  # another scheduler already sent the second one's 50%
        deadline = s.scalar(select(Deadline).join(Case).where(Case.ticket == tickets[1], Deadline.kind == "stage"))
        s.add(Reminder(deadline_id=deadline.id, threshold=0.5, status="sent", at=clock()))
    clock.at = wib(2025, 4, 9, 12, 0)
    assert Scheduler(runtime, clock=clock).tick()["reminders"] == 4
    sent = reminders(runtime)
    assert len(sent) == 4 and not any(tickets[1] in r for r in sent)
    with runtime.sessions() as s:  # every row moved on to its next threshold, the skipped one too
        nexts = s.scalars(select(Deadline.next_remind_at).where(Deadline.kind == "stage").order_by(Deadline.id)).all()
        assert all(n > clock.at for n in nexts)


def test_a_paused_stage_does_not_remind(runtime, clock):
    ticket = Chat(runtime).file_complaint()
    with transaction(runtime.sessions) as s:
        runtime.cases.fire(s, ticket, "request_info", ADMIN, note="Foto?", now=wib(2025, 4, 8, 8, 0))
    clock.at = wib(2025, 4, 10, 15, 0)
    Scheduler(runtime, clock=clock).tick()
    assert not any("Belum Terverifikasi" in r for r in reminders(runtime))


def test_a_reminder_outside_office_hours_waits_for_the_opening(make_runtime, clock):
    rt = make_runtime(clock=clock, workflow={"preset": "pst-sorong"})
    with transaction(rt.sessions) as s:
        add_unit(s, "IPDS", "IPDS")
        officer, code = invite(s, rt.workflow, "fungsi_ipds", "IPDS", now=clock())
        redeem(s, code, "webchat", "w-ipds", now=clock())
    clock.at = wib(2025, 4, 14, 8, 0)
    chat = Chat(rt)
    ticket = chat.file_complaint()  # category: the first (perpustakaan)
    with transaction(rt.sessions) as s:
        case = rt.cases.get(s, ticket)
        case.category = "konsultasi"  # a complaint about a consultation: the national 10 working days
        rt.cases.fire(s, ticket, "verify", Actor(ActorType.OFFICER, "petugas_pst", 2), now=clock())
        rt.cases.fire(s, ticket, "answer", Actor(ActorType.OFFICER, "fungsi_ipds", 3), note="Jawaban",
                      now=wib(2025, 4, 15, 9, 0))  # Tue 09.00 WIB = 11.00 WIT
    scheduler = Scheduler(rt, clock=clock)
    # 50%: the closing time of the fifth working day (Good Friday skipped), Wed 23 Apr 16.00 WIT
    clock.at = wib(2025, 4, 23, 14, 30)  # 16.30 in Sorong: closed
    scheduler.tick()
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Reminder)) == 0
    clock.at = wib(2025, 4, 24, 5, 31)  # Thursday 07.31 WIT: open
    scheduler.tick()
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Reminder)) == 1
    clock.at = wib(2025, 4, 30, 13, 59)  # not the consultation chat's 7 days: still open
    assert scheduler.tick()["breaches"] == 0
    clock.at = wib(2025, 4, 30, 14, 0)  # 10 working days: Wed 30 Apr 16.00 WIT; the user is told
    assert scheduler.tick()["breaches"] == 1
    with rt.sessions() as s:
        assert s.scalar(select(Case.state)) == "closed"
    assert any("Selesai" in t for t in chat.pop() for t in [t["text"]])


def test_answered_closes_itself_after_10_working_days(runtime, clock):
    chat = Chat(runtime)
    ticket = chat.file_complaint()
    unit = Actor(ActorType.OFFICER, "unit_officer", 3)
    with transaction(runtime.sessions) as s:
        runtime.cases.fire(s, ticket, "dispose", ADMIN, unit_code="KEU", now=wib(2025, 4, 8, 9, 0))
        runtime.cases.fire(s, ticket, "start", unit, now=wib(2025, 4, 8, 10, 0))
        runtime.cases.fire(s, ticket, "answer", unit, note="Sudah", now=wib(2025, 4, 25, 14, 0))
    chat.pop()
    scheduler = Scheduler(runtime, clock=clock)
    clock.at = wib(2025, 5, 14, 15, 59)  # due Wed 14 May 16.00 (1 May, 12-13 May skipped)
    assert scheduler.tick()["breaches"] == 0
    clock.at = wib(2025, 5, 14, 16, 0)
    assert scheduler.tick()["breaches"] == 1
    with runtime.sessions() as s:
        case = runtime.cases.get(s, ticket, full=True)
        assert case.state == "closed" and case.events[-1].actor_type == "system"
    assert any("Selesai" in p["text"] for p in chat.pop())


def test_an_unanswered_information_request_is_archived(runtime, clock):
    ticket = Chat(runtime).file_complaint()
    with transaction(runtime.sessions) as s:
        runtime.cases.fire(s, ticket, "request_info", ADMIN, note="Alamat?", now=wib(2025, 4, 8, 9, 0))
    clock.at = wib(2025, 4, 23, 16, 0)  # 10 working days (Good Friday skipped)
    Scheduler(runtime, clock=clock).tick()
    with runtime.sessions() as s:
        assert s.scalar(select(Case.state)) == "archived"


@pytest.mark.parametrize("privacy, told", [("biasa", True), ("anonim", False)])
def test_60_working_days_without_follow_up_escalate(runtime, clock, privacy, told):
    chat = Chat(runtime)
    ticket = chat.file_complaint(privacy=privacy)
    with transaction(runtime.sessions) as s:
        runtime.cases.fire(s, ticket, "dispose", ADMIN, unit_code="KEU", now=wib(2025, 4, 8, 9, 0))
    chat.pop()
    clock.at = wib(2025, 7, 11, 16, 30)  # 60 working days after Thu 27 March
    Scheduler(runtime, clock=clock).tick()
    # both quote the workflow's figure, in the reader's language
    assert f"Eskalasi otomatis: {ticket} belum ditindaklanjuti dalam 60 hari kerja." in texts(runtime, "w-boss")
    assert any("Ombudsman" in p["text"] and "dalam 60 hari kerja" in p["text"] for p in chat.pop()) is told
    with runtime.sessions() as s:
        assert s.scalar(select(Case.escalated_at)) is not None


def test_one_broken_row_does_not_stop_the_others(runtime, clock):
    first = Chat(runtime, chat_id="w-1").file_complaint()
    Chat(runtime, chat_id="w-2").file_complaint()
    with transaction(runtime.sessions) as s:
        runtime.cases.get(s, first).workflow = "renamed-workflow-file"  # its workflow is gone
    clock.at = wib(2025, 4, 9, 12, 0)
    done = Scheduler(runtime, clock=clock).tick()
    assert done["reminders"] == 1  # the healthy case's 50% reminder still went


def test_a_failed_monthly_report_is_made_again_next_tick(runtime, clock, monkeypatch):
    import bot.reports.monthly as monthly

    clock.at = wib(2025, 5, 2, 8, 0)  # the first working day of May (1 May is a holiday)
    real = monthly.write
    monkeypatch.setattr(monthly, "write", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    scheduler = Scheduler(runtime, clock=clock)
    scheduler.tick()
    assert not any(t.startswith("Laporan bulanan") for t in texts(runtime, "w-boss"))
    monkeypatch.setattr(monthly, "write", real)
    clock.at = wib(2025, 5, 5, 8, 0)  # missed on its day: made on the next one
    scheduler.tick()
    scheduler.tick()
    assert [t for t in texts(runtime, "w-boss") if t.startswith("Laporan bulanan")][0].startswith(
        "Laporan bulanan 2025-04")
    assert len([t for t in texts(runtime, "w-boss") if t.startswith("Laporan bulanan")]) == 1
