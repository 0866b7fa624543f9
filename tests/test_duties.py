"""Periodic duties as clocks (seed 000 step 6, seed 003's monthly and yearly reports): opened
once per period by the scheduler, reminded to the actor role's officers, breached to them
and the leadership, marked done by the duty's chat command, shown in the digests."""
import re

import pytest
from sqlalchemy import func, select

from bot.scheduler import Scheduler
from flows import duties as periods
from flows.errors import WorkflowError
from flows.presets import load_workflow, preset_names
from flows.workflow import parse_workflow
from handlers import digests
from storage import duties as store
from storage.db import transaction
from storage.models import Deadline, ScheduledRun
from storage.models_duties import Duty
from tests.chat import enrol
from tests.conftest import wib
from tests.test_scheduler import Clock

BABEL = {"workflow": {"preset": "bps-babel"}}
# The conversation and the digests run the same SQL everywhere: SQLite is enough. The claim
# and the catch-up (ON CONFLICT, a writer waiting on another's row) run on PostgreSQL too.
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


# -- periods and the workflow's rules ---------------------------------------------------------
@pytest.mark.parametrize("every, key, before, after, label", [
    ("month", "2025-04", "2025-03", "2025-05", "April 2025"),
    ("month", "2025-01", "2024-12", "2025-02", "Januari 2025"),
    ("month", "2025-12", "2025-11", "2026-01", "Desember 2025"),
    ("year", "2025", "2024", "2026", "2025"),
])
def test_periods_step_across_month_and_year_ends(every, key, before, after, label):
    assert periods.preceding(every, key) == before and periods.following(every, key) == after
    assert periods.parse_period(every, key) == key and periods.period_label(every, key, "id") == label


@pytest.mark.parametrize("every, text", [("month", "2025-4"), ("month", "2025"), ("month", "2025-13"),
                                         ("year", "2025-04"), ("year", "25"), ("month", "")])
def test_a_period_written_wrongly_is_refused(every, text):
    with pytest.raises(periods.PeriodError):
        periods.parse_period(every, text)


def test_the_babel_duty_for_april_opens_on_the_first_working_day_of_may_due_a_working_day_later():
    runtime_cal = _calendar("bps-babel")
    assert periods.opening(runtime_cal, "month", "2025-04") == wib(2025, 5, 2, 7, 30)  # 1 May: Labour Day
    p = load_workflow("bps-babel").periodic[0]
    assert (p.id, p.commands, p.clock_sla, p.sop_time) == ("lapor_bulanan", ("lapor_bulanan", "monthly_report"),
                                                           "1 working day", "1 Hari")
    row = store._clock(p, "2025-04", runtime_cal)
    assert row.due_at == wib(2025, 5, 5, 16, 0)


def _calendar(preset):
    from bot.config import Settings

    return Settings.model_validate({"workflow": {"preset": preset}}).calendar(load_workflow(preset))


def test_every_preset_duty_has_a_command_and_a_clock():
    for name in preset_names():
        for p in load_workflow(name).periodic:
            assert p.commands and p.clock_sla, (name, p.id)
    sorong = {p.id: p for p in load_workflow("pst-sorong").periodic}
    assert set(sorong) == {"evaluasi_bulanan", "skm_tahunan", "evaluasi_tahunan"}
    assert sorong["skm_tahunan"].every == "year" and sorong["evaluasi_bulanan"].clock_sla == "5 working days"


def _with_periodic(block: str) -> str:
    from importlib import resources

    text = (resources.files("flows") / "presets" / "bps-babel.toml").read_text(encoding="utf-8")
    start = text.index("[[periodic]]")
    end = text.index("[[transitions]]")
    return text[:start] + block + "\n" + text[end:]


DUTY = 'id = "lapor_bulanan"\nstep_id = "x"\nstep_en = "x"\nactor = "petugas_pengaduan"\nevery = "month"\n'


@pytest.mark.parametrize("block, key, problem", [
    ("[[periodic]]\n" + DUTY + 'command = "lapor"\n', "periodic[0].command", "fixed command"),
    ("[[periodic]]\n" + DUTY + 'command_en = "verifikasi"\n', "periodic[0].command_en", "already names 'verify'"),
    ("[[periodic]]\n" + DUTY + "[[periodic]]\n" + DUTY.replace('"month"', '"year"'), "periodic[1].id",
     "already the id"),
    ("[[periodic]]\n" + DUTY + "[[periodic]]\n" + DUTY.replace('id = "lapor_bulanan"', 'id = "x2"')
     + 'command = "lapor_bulanan"\n', "periodic[1].command", "already names 'duty lapor_bulanan'"),
    ("[[periodic]]\n" + DUTY.replace("petugas_pengaduan", "citizen"), "periodic[0].actor", "not a role declared"),
    ("[[periodic]]\n" + DUTY + 'sla = "1 hari kerjaa"\n', "periodic[0].sla", "cannot read SLA"),
    ("[[periodic]]\n" + DUTY.replace('id = "lapor_bulanan"\n', ""), "periodic[0].id", "Field required"),
    ("[[periodic]]\n" + DUTY + 'command = "Lapor Bulanan"\n', "periodic[0].command", "pattern"),
])
def test_workflow_check_names_the_duty_key_at_fault(block, key, problem):
    with pytest.raises(WorkflowError) as err:
        parse_workflow(_with_periodic(block), "x.toml")
    assert err.value.key == key and problem in err.value.problem, str(err.value)


# -- the clock in the scheduler, and the command in chat -----------------------------------------
@pytest.fixture
def clock():
    return Clock(wib(2025, 4, 30, 15, 0))


@pytest.fixture
def babel(make_runtime, clock):
    runtime = make_runtime(clock=clock, **BABEL)
    with transaction(runtime.sessions) as s:  # the monthly reports to the leadership went already
        s.add_all(ScheduledRun(job="monthly", run_key=f"2025-0{m}", at=clock()) for m in (4, 5, 6))
    return runtime


def _officers(runtime):
    petugas = enrol(runtime, "petugas_pengaduan", channel="telegram", chat_id="t-petugas")
    kepala = enrol(runtime, "kepala", channel="telegram", chat_id="t-kepala")
    teknis = enrol(runtime, "tim_teknis", channel="telegram", chat_id="t-teknis")
    for chat in (petugas, kepala, teknis):
        chat.pop()  # the enrolment and help
        chat.history = []
    return petugas, kepala, teknis


def _texts(chat):
    chat.pop()
    return [p["text"] for p in chat.history]


@SQLITE
def test_the_month_end_opens_the_duty_once_reminds_the_petugas_and_the_command_marks_it_done(babel, clock):
    petugas, kepala, teknis = _officers(babel)
    scheduler = Scheduler(babel, clock=clock)
    # before anything opened: the command says when the next one opens
    [nothing] = petugas.say("/lapor_bulanan")
    assert nothing == ("Tidak ada tugas berkala Membuat laporan bulanan dan mencatat pada aplikasi SP4N Lapor "
                       "yang terbuka. Periode berikutnya (April 2025) dibuka Jumat, 2 Mei 2025 pukul 07.30 WIB.")
    for at in (wib(2025, 4, 30, 16, 0), wib(2025, 5, 1, 10, 0), wib(2025, 5, 2, 7, 29)):  # 1 May: a holiday
        clock.at = at
        assert scheduler.tick()["duties"] == 0
    clock.at = wib(2025, 5, 2, 7, 30)
    assert scheduler.tick()["duties"] == 1
    assert scheduler.tick()["duties"] == 0 and Scheduler(babel, clock=clock).tick()["duties"] == 0  # once
    clock.at = wib(2025, 5, 2, 16, 20)  # the start day is the arrival's grace: no office time counted yet
    assert scheduler.tick()["reminders"] == 0
    clock.at = wib(2025, 5, 5, 11, 50)  # 50% of the one working day, Mon 07.30-16.00, falls 11.45
    assert scheduler.tick()["reminders"] == 1
    clock.at = wib(2025, 5, 5, 12, 0)
    [done] = petugas.say("/lapor_bulanan")
    duty = "Membuat laporan bulanan dan mencatat pada aplikasi SP4N Lapor — April 2025"
    assert done == (f"Tercatat selesai: {duty}, oleh petugas #{petugas.officer_id} (Petugas Pengaduan), "
                    "Senin, 5 Mei 2025 pukul 12.00 WIB. Pengingatnya berhenti.")
    for at in (wib(2025, 5, 5, 14, 30), wib(2025, 5, 5, 16, 0), wib(2025, 5, 8, 10, 0)):  # 80%, due, later
        clock.at = at
        assert (lambda d: (d["reminders"], d["breaches"]))(scheduler.tick()) == (0, 0)
    assert _texts(petugas) == [
        nothing,
        f"Tugas berkala: {duty}. Tenggat Senin, 5 Mei 2025 pukul 16.00 WIB.\nBila sudah selesai, ketik /lapor_bulanan.",
        f"Ringkasan harian: 0 kasus menunggu Anda (0 lewat tenggat ⚠, 0 baru ★).\nTugas berkala:\n"
        f"• {duty}: tenggat Senin, 5 Mei 2025 pukul 16.00 WIB (/lapor_bulanan)",
        f"Pengingat (50%): tugas berkala {duty}, 4 jam 10 menit lagi (tenggat Senin, 5 Mei 2025 pukul 16.00 WIB)."
        "\nBila sudah selesai, ketik /lapor_bulanan.",
        f"Ringkasan harian: 0 kasus menunggu Anda (0 lewat tenggat ⚠, 0 baru ★).\nTugas berkala:\n"
        f"• {duty}: tenggat Senin, 5 Mei 2025 pukul 16.00 WIB (/lapor_bulanan)",  # Monday's digest
        done,
    ]  # and nothing after: the 80% and 100% reminders and the breach stopped with it
    assert not any("Tenggat terlewati" in t for t in _texts(kepala))
    with babel.sessions() as s:
        row = s.scalar(select(Duty))
        assert (row.duty, row.period, row.done_by_id, row.done_via) == ("lapor_bulanan", "2025-04",
                                                                      petugas.officer_id, "chat")
        assert s.scalar(select(Deadline.completed_at).where(Deadline.duty_id == row.id)) == wib(2025, 5, 5, 12, 0)
    assert petugas.say("/monthly_report") == [  # the English alias: nothing is open now
        "Tidak ada tugas berkala Membuat laporan bulanan dan mencatat pada aplikasi SP4N Lapor yang terbuka. "
        "Periode berikutnya (Mei 2025) dibuka Senin, 2 Juni 2025 pukul 07.30 WIB."]


@SQLITE
def test_a_duty_not_done_is_breached_to_the_petugas_and_the_leadership(babel, clock):
    petugas, kepala, teknis = _officers(babel)
    scheduler = Scheduler(babel, clock=clock)
    clock.at = wib(2025, 5, 2, 7, 30)
    scheduler.tick()
    clock.at = wib(2025, 5, 5, 16, 0)  # the 80% and 100% thresholds are passed: one reminder, and the breach
    assert (lambda d: (d["reminders"], d["breaches"]))(scheduler.tick()) == (1, 1)
    duty = "Membuat laporan bulanan dan mencatat pada aplikasi SP4N Lapor — April 2025"
    breach = (f"Tenggat terlewati: tugas berkala {duty} (Petugas Pengaduan) belum selesai "
              "(tenggat Senin, 5 Mei 2025 pukul 16.00 WIB).")
    assert breach in _texts(kepala)
    assert not any("Tugas berkala" in t or "Tenggat" in t for t in _texts(teknis))
    clock.at = wib(2025, 5, 6, 7, 30)  # the next digest marks it overdue
    scheduler.tick()
    clock.at = wib(2025, 5, 6, 9, 0)
    [late] = petugas.say("/lapor_bulanan")
    hint = "\nBila sudah selesai, ketik /lapor_bulanan."
    digest = ("Ringkasan harian: 0 kasus menunggu Anda (0 lewat tenggat ⚠, 0 baru ★).\nTugas berkala:\n"
              f"• {duty}: tenggat Senin, 5 Mei 2025 pukul 16.00 WIB (/lapor_bulanan)")
    assert _texts(petugas) == [
        f"Tugas berkala: {duty}. Tenggat Senin, 5 Mei 2025 pukul 16.00 WIB.{hint}",
        digest,  # Fri 2 May
        f"Pengingat (100%): tugas berkala {duty}, lewat 0 menit (tenggat Senin, 5 Mei 2025 pukul 16.00 WIB).{hint}",
        breach + hint,
        digest,  # Mon 5 May: the first tick of the day came at 16.00
        digest + " ⚠",  # Tue 6 May
        late]
    assert late.endswith("Pengingatnya berhenti.\nSelesai sesudah tenggat (Senin, 5 Mei 2025 pukul 16.00 WIB).")


@SQLITE
def test_only_the_actor_role_may_mark_it_and_a_second_petugas_is_told(babel, clock):
    petugas, kepala, teknis = _officers(babel)
    other = enrol(babel, "petugas_pengaduan", channel="telegram", chat_id="t-petugas-2")
    other.pop()
    other.history = []
    clock.at = wib(2025, 5, 2, 8, 0)
    Scheduler(babel, clock=clock).tick()
    refusal = ("Tugas berkala Membuat laporan bulanan dan mencatat pada aplikasi SP4N Lapor dikerjakan oleh "
               "Petugas Pengaduan; peran Anda tidak dapat menandainya selesai.")
    assert teknis.say("/lapor_bulanan") == [refusal] and kepala.say("/lapor_bulanan") == [refusal]
    with babel.sessions() as s:
        assert s.scalar(select(Duty.done_at)) is None
    petugas.say("/lapor_bulanan")
    assert _texts(other)[-1] == (f"petugas #{petugas.officer_id} (Petugas Pengaduan) menandai tugas berkala Membuat laporan bulanan "
                                 "dan mencatat pada aplikasi SP4N Lapor — April 2025 selesai.")
    [already] = other.say("/lapor_bulanan 2025-04")
    assert already == ("Membuat laporan bulanan dan mencatat pada aplikasi SP4N Lapor — April 2025 sudah tercatat "
                       f"selesai oleh petugas #{petugas.officer_id} (Petugas Pengaduan), Jumat, 2 Mei 2025 pukul 08.00 WIB.")
    assert other.say("/lapor_bulanan april") == ["Tulis periodenya sebagai YYYY-MM, mis. /lapor_bulanan 2025-04."]
    help_text = "\n".join(petugas.say("/bantuan"))
    assert "/lapor_bulanan (/monthly_report) [YYYY-MM] — Membuat laporan bulanan" in help_text
    assert "/lapor_bulanan" not in "\n".join(teknis.say("/bantuan"))


def test_a_scheduler_that_was_down_catches_up_each_missed_month_once(babel, clock):
    scheduler = Scheduler(babel, clock=clock)
    clock.at = wib(2025, 4, 30, 9, 0)  # first run: March is past due already, so it is not announced
    assert scheduler.tick()["duties"] == 0
    clock.at = wib(2025, 5, 2, 9, 0)
    assert scheduler.tick()["duties"] == 1
    clock.at = wib(2025, 7, 3, 9, 0)  # down through the ends of May and June
    assert scheduler.tick()["duties"] == 2
    scheduler.leader.release()
    assert Scheduler(babel, clock=clock).tick()["duties"] == 0
    with babel.sessions() as s:
        opened = s.execute(select(Duty.period, Deadline.due_at).join(Deadline, Deadline.duty_id == Duty.id)
                           .order_by(Duty.period)).all()
    # each with its own clock from its own first working day (2 Jun; 1 Jul), not from the restart
    assert opened == [("2025-04", wib(2025, 5, 5, 16, 0)), ("2025-05", wib(2025, 6, 3, 16, 0)),
                      ("2025-06", wib(2025, 7, 2, 16, 0))]


def test_the_claim_is_once_only_also_under_two_writers(babel, clock):
    """Two schedulers opening the same duty at the same moment: one row, one opener. On
    PostgreSQL the second writer waits on the first's uncommitted row, then finds it."""
    import threading

    p, cal, now = babel.workflow.periodic[0], babel.calendar, wib(2025, 5, 2, 8, 0)
    results = []
    first = babel.sessions()
    results.append(store.claim(first, p, "2025-04", cal, now) is not None)
    if babel.engine.dialect.name == "postgresql":
        def second():
            try:
                with transaction(babel.sessions) as s:
                    results.append(store.claim(s, p, "2025-04", cal, now) is not None)
            except Exception as exc:  # said in the assertion below, not lost in a thread
                results.append(repr(exc))
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), results  # waiting on the first writer's row
        first.commit()
        thread.join(5)
    else:
        first.commit()
        with transaction(babel.sessions) as s:
            results.append(store.claim(s, p, "2025-04", cal, now) is not None)
    first.close()
    assert results == [True, False]
    with babel.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Duty)) == 1
        assert s.scalar(select(func.count()).select_from(Deadline).where(Deadline.kind == "duty")) == 1


@SQLITE
def test_two_officers_marking_it_at_once_record_one(babel, clock):
    """Each read the duty open; the one statement that marks it decides who did it."""
    clock.at = wib(2025, 5, 2, 8, 0)
    Scheduler(babel, clock=clock).tick()
    with babel.sessions() as late:
        stale = late.scalar(select(Duty))  # read before the other officer's mark ...
        late.commit()  # (SQLite: a reader's snapshot cannot write after another writer)
        with transaction(babel.sessions) as first:
            assert store.mark_done(first, first.scalar(select(Duty)), store.DoneBy("Rina"), wib(2025, 5, 2, 9, 0))
        assert stale.done_at is None  # ... so it still looks open here
        assert not store.mark_done(late, stale, store.DoneBy("Budi"), wib(2025, 5, 2, 9, 1))
        late.commit()
    with babel.sessions() as s:
        assert s.execute(select(Duty.done_by, Duty.done_at)).one() == ("Rina", wib(2025, 5, 2, 9, 0))


@SQLITE
def test_the_weekly_digest_counts_overdue_duties(babel, clock):
    clock.at = wib(2025, 5, 2, 8, 0)
    Scheduler(babel, clock=clock).tick()
    office = babel.conversation.office
    with babel.sessions() as s:
        before = digests.weekly(s, office, "id", wib(2025, 5, 5, 8, 0))
        after = digests.weekly(s, office, "en", wib(2025, 5, 12, 8, 0))
    assert before is None  # nothing else happened and the duty is not due yet
    assert after.text.splitlines()[-2:] == [
        "Periodic duties past due: 1",
        "• Make the monthly report and record it in SP4N-LAPOR! — April 2025 (was due Monday, 5 May 2025 at "
        "16:00 WIB)"]


@SQLITE
def test_the_daily_digest_lists_open_duties_to_their_actor_only(babel, clock):
    clock.at = wib(2025, 5, 2, 8, 0)
    Scheduler(babel, clock=clock).tick()
    office = babel.conversation.office
    with transaction(babel.sessions) as s:
        from storage.officers import invite

        petugas, _ = invite(s, babel.workflow, "petugas_pengaduan", now=clock())
        kepala, _ = invite(s, babel.workflow, "kepala", now=clock())
        s.flush()
        lines = digests.daily(s, office, petugas, wib(2025, 5, 6, 7, 30)).text.splitlines()
        assert lines[-2:] == ["Tugas berkala:", "• Membuat laporan bulanan dan mencatat pada aplikasi SP4N Lapor — "
                              "April 2025: tenggat Senin, 5 Mei 2025 pukul 16.00 WIB (/lapor_bulanan) ⚠"]
        assert digests.daily(s, office, kepala, wib(2025, 5, 6, 7, 30)) is None
        assert store.mark_done(s, s.scalar(select(Duty)), store.DoneBy("Rina"), wib(2025, 5, 6, 9, 0))
        assert digests.daily(s, office, petugas, wib(2025, 5, 7, 7, 30)) is None  # nothing else waits on them


# -- the command line ------------------------------------------------------------------------------
@SQLITE
def test_the_cli_lists_duties_and_records_one_done(tmp_path, database_url, engine, make_runtime):
    from click.testing import CliRunner

    from bot.cli import main

    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n[workflow]\npreset = "bps-babel"\n')

    def aduan(*args):
        return CliRunner().invoke(main, ["--config", str(config), "report", "duties", *args])

    listed = aduan()
    assert listed.exit_code == 0, listed.output
    assert "lapor_bulanan  month  1 working day  Complaint officer  /lapor_bulanan, /monthly_report" in listed.output
    assert "none opened yet" in listed.output
    runtime = make_runtime(**BABEL)  # May 2025's duty opened by a scheduler, never done
    with transaction(runtime.sessions) as s:
        store.claim(s, runtime.workflow.periodic[0], "2025-05", runtime.calendar, wib(2025, 6, 2, 8, 0))
    r = aduan("--done", "lapor_bulanan", "--period", "2025-04", "--by", "Rina")  # never opened: recorded
    assert r.output == "lapor_bulanan 2025-04: done late — Rina (recorded on the command line)\n", r.output
    r = aduan("--done", "lapor_bulanan")  # the latest open one
    assert r.output == "lapor_bulanan 2025-05: done late — recorded on the command line\n", r.output
    rows = [line.split("  ") for line in aduan().output.splitlines() if line.startswith("lapor_bulanan  2025-")]
    rows = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    when = r", \w{3} \d{4}-\d\d-\d\d \d\d:\d\d WIB$"  # the CLI's clock is the real one: when it ran
    assert [row[:4] for row in rows] == [["lapor_bulanan", "2025-05", "Tue 2025-06-03 16:00 WIB", "done late"],
                                         ["lapor_bulanan", "2025-04", "Mon 2025-05-05 16:00 WIB", "done late"]]
    assert re.match("recorded on the command line" + when, rows[0][4]), rows[0]
    assert re.match(r"Rina \(recorded on the command line\)" + when, rows[1][4]), rows[1]
    for args, message in [
        (("--done", "lapor_bulanan", "--period", "2025-04"), "was already done: Rina (recorded on the command line)"),
        (("--done", "lapor_bulanan"), "no period of lapor_bulanan is open; name one with --period"),
        (("--done", "lapor_bulanan", "--period", "April"), "--period: a month as YYYY-MM, e.g. 2025-04"),
        (("--done", "lapor_bulanan", "--period", "2099-01"), "2099-01 has not ended yet"),
        (("--done", "skm_tahunan"), "'skm_tahunan' is not a periodic duty of workflow bps-babel"),
        (("--period", "2025-04"), "--period and --by go with --done DUTY_ID"),
    ]:
        r = aduan(*args)
        assert r.exit_code == 1 and message in r.stderr, (args, r.stderr)
    with runtime.sessions() as s:
        assert s.scalars(select(Duty.period).order_by(Duty.period)).all() == ["2025-04", "2025-05"]


def test_a_period_recorded_done_by_hand_skips_only_itself(babel, clock):
    """`aduan report duties --done` for March while the scheduler was down since January's
    duty: February still opens (and is reminded), March does not; on a fresh install an old
    period recorded by hand starts no catch-up of overdue months."""
    from storage import duties as store
    from storage.duties import DoneBy

    p, cal = babel.workflow.periodic[0], babel.calendar
    scheduler = Scheduler(babel, clock=clock)
    clock.at = wib(2025, 2, 3, 9, 0)
    assert scheduler.tick()["duties"] == 1  # January's
    with transaction(babel.sessions) as s:
        store.record_done(s, p, "2025-03", cal, DoneBy("Admin", via="cli"), wib(2025, 4, 1, 10, 0))
    clock.at = wib(2025, 4, 2, 9, 0)
    assert scheduler.tick()["duties"] == 1
    with babel.sessions() as s:
        assert sorted(s.scalars(select(Duty.period))) == ["2025-01", "2025-02", "2025-03"]


def test_an_old_period_recorded_on_a_fresh_install_opens_no_overdue_months(babel, clock):
    from storage import duties as store
    from storage.duties import DoneBy

    p, cal = babel.workflow.periodic[0], babel.calendar
    with transaction(babel.sessions) as s:
        store.record_done(s, p, "2024-12", cal, DoneBy("Admin", via="cli"), wib(2025, 4, 30, 10, 0))
    clock.at = wib(2025, 4, 30, 11, 0)  # March is past due: not announced
    assert Scheduler(babel, clock=clock).tick()["duties"] == 0
    with babel.sessions() as s:
        assert sorted(s.scalars(select(Duty.period))) == ["2024-12"]
