"""The follow-up figures as KemenPAN-RB and Kemendagri evaluate them (seed 004: "persentase
tindak lanjut laporan dan rata-rata lamanya tindak lanjut"), counted by hand for April 2025
(WIB; 18 April is Good Friday). On SQLite, and on PostgreSQL when configured: the SQL differs."""
from fractions import Fraction

import pytest

from bot.config import Settings
from bot.reports.monthly import month_bounds
from bot.runtime import Runtime
from flows.case_fields import ActorType
from flows.errors import WorkflowError
from flows.follow_up import follow_up_states
from flows.presets import load_workflow, preset_names
from flows.workflow import parse_workflow
from storage.cases import CITIZEN, Actor
from storage.db import transaction
from storage.reporting import figures
from storage.units import add_unit
from tests.conftest import wib

ADMIN, UNIT = Actor(ActorType.OFFICER, "admin", 1), Actor(ActorType.OFFICER, "unit_officer", 2)
ANSWER = ("verify", "dispose", "start", "answer")


def run(rt, s, steps):
    """Open a case and take it through (trigger, at[, unit]) steps."""
    (opened, *moves) = steps
    case = rt.cases.open_case(s, kind="pengaduan", text="Pengaduan untuk laporan", channel="webchat", now=opened)
    for trigger, at, *unit in moves:
        actor = {"start": UNIT, "answer": UNIT, "provide_info": CITIZEN, "not_resolved": CITIZEN}.get(trigger, ADMIN)
        note = "Catatan" if trigger in ("answer", "request_info", "refer", "reject", "not_resolved") else None
        rt.cases.fire(s, case.ticket, trigger, actor, note=note, unit_code=unit[0] if unit else None, now=at)
    return case


def answered(opened, unit, *times):
    return [opened, *((t, at, unit) if t == "dispose" else (t, at) for t, at in zip(ANSWER, times))]


@pytest.fixture
def office(database_url, engine):
    rt = Runtime(Settings.model_validate({"database": {"url": database_url}, "office": {"name": "BPS Uji"}}))
    with transaction(rt.sessions) as s:
        add_unit(s, "KEU", "Keuangan")
        add_unit(s, "LAY", "Layanan")
    yield rt
    rt.close()


def april(rt):
    start, end = month_bounds(rt.calendar, "2025-04")
    with rt.sessions() as s:
        return figures(s, rt.workflow, rt.calendar, start, end)


def test_archived_as_incomplete_is_not_followed_up(office):
    """The issue's example: 3 cases, 1 answered. Counted as before, the archived one made it 66.7%."""
    with transaction(office.sessions) as s:
        run(office, s, answered(wib(2025, 4, 8, 9), "KEU", *(wib(2025, 4, 9, h) for h in (9, 10, 11, 12))))
        run(office, s, [wib(2025, 4, 8, 9), ("request_info", wib(2025, 4, 8, 10)),
                        ("archive_incomplete", wib(2025, 4, 23, 9))])
        run(office, s, [wib(2025, 4, 8, 9)])
    f = april(office)
    assert f.follow_up_rate == pytest.approx(1 / 3)
    t = f.follow_up.total
    assert (t.cases, t.followed_up, t.ended, t.open) == (3, 1, 1, 1)


def test_the_citizens_waiting_time_is_left_out(office):
    with transaction(office.sessions) as s:
        # Wed 9 -> Tue 22 is 8 working days; the citizen held it Thu 10 -> Tue 15 (3 of them)
        run(office, s, [wib(2025, 4, 9, 10), ("request_info", wib(2025, 4, 10, 9)),
                        ("provide_info", wib(2025, 4, 15, 11)), ("verify", wib(2025, 4, 16, 9)),
                        ("dispose", wib(2025, 4, 16, 10), "KEU"), ("start", wib(2025, 4, 17, 9)),
                        ("answer", wib(2025, 4, 22, 10))])
    assert april(office).avg_follow_up_days == 5


def test_referred_and_rejected_are_counted_apart_and_open_cases_shown_apart(office):
    with transaction(office.sessions) as s:
        # A: Tue 8 -> Tue 15, 5 working days
        run(office, s, answered(wib(2025, 4, 8, 9), "KEU", wib(2025, 4, 9, 9), wib(2025, 4, 9, 10),
                                wib(2025, 4, 10, 9), wib(2025, 4, 15, 10)))
        # B: 8 working days, 3 of them waiting on the citizen: 5
        run(office, s, [wib(2025, 4, 9, 10), ("request_info", wib(2025, 4, 10, 9)),
                        ("provide_info", wib(2025, 4, 15, 11)), ("verify", wib(2025, 4, 16, 9)),
                        ("dispose", wib(2025, 4, 16, 10), "KEU"), ("start", wib(2025, 4, 17, 9)),
                        ("answer", wib(2025, 4, 22, 10))])
        # C: archived as incomplete: not followed up, not open
        run(office, s, [wib(2025, 4, 14, 9), ("request_info", wib(2025, 4, 14, 13)),
                        ("archive_incomplete", wib(2025, 4, 29, 9))])
        run(office, s, [wib(2025, 4, 15, 9), ("refer", wib(2025, 4, 16, 9))])  # D
        run(office, s, [wib(2025, 4, 16, 9), ("reject", wib(2025, 4, 17, 9))])  # E
        # F: open at the unit since Mon 21: 7 working days by 30 April
        run(office, s, [wib(2025, 4, 21, 9), ("verify", wib(2025, 4, 21, 10)),
                        ("dispose", wib(2025, 4, 22, 9), "KEU"), ("start", wib(2025, 4, 23, 9))])
        # G: open since Tue 22 (6 working days), waiting on the citizen since Wed 23 (5): 1
        run(office, s, [wib(2025, 4, 22, 9), ("request_info", wib(2025, 4, 23, 9))])
        # H: Mon 28 -> Wed 30, 2; the citizen's "not solved" after it keeps it followed up
        run(office, s, [*answered(wib(2025, 4, 28, 9), "LAY", wib(2025, 4, 28, 10), wib(2025, 4, 28, 11),
                                  wib(2025, 4, 29, 9), wib(2025, 4, 30, 9)), ("not_resolved", wib(2025, 4, 30, 11))])
        # I: at KEU since Tue 8, never started: 15 working days open, and overdue (due Tue 15)
        run(office, s, [wib(2025, 4, 8, 9), ("dispose", wib(2025, 4, 8, 10), "KEU")])
        run(office, s, [wib(2025, 5, 2, 9), ("reject", wib(2025, 5, 2, 10))])  # May: not April's
    f = april(office)
    t = f.follow_up.total
    assert (t.cases, t.referred, t.rejected, t.counted) == (9, 1, 1, 7)
    assert (t.followed_up, t.ended, t.open, t.not_followed_up) == (3, 1, 3, 4)
    assert f.follow_up_rate == pytest.approx(3 / 7)
    assert f.avg_follow_up_days == pytest.approx((5 + 5 + 2) / 3)
    assert Fraction(t.open_days, t.open) == Fraction(7 + 1 + 15, 3)
    with office.sessions() as s:
        from storage.units import unit_by_code

        keu, lay = unit_by_code(s, "KEU").id, unit_by_code(s, "LAY").id
    units = f.follow_up.units
    assert (units[keu].cases, units[keu].followed_up, units[keu].rate, units[keu].avg_days,
            units[keu].open, units[keu].overdue) == (4, 2, 0.5, 5, 2, 1)
    assert (units[lay].cases, units[lay].followed_up, units[lay].rate, units[lay].avg_days) == (1, 1, 1, 2)
    assert (units[None].cases, units[None].counted, units[None].followed_up) == (4, 2, 0)


def test_a_follow_up_after_the_period_is_not_counted_in_it(office):
    with transaction(office.sessions) as s:
        run(office, s, answered(wib(2025, 4, 29, 9), "KEU", wib(2025, 4, 29, 10), wib(2025, 4, 29, 11),
                                wib(2025, 4, 30, 9), wib(2025, 5, 2, 9)))
    t = april(office).follow_up.total
    assert (t.followed_up, t.open, t.open_days) == (0, 1, 1)  # Tue 29 -> Wed 30 (1 May is a holiday)


def test_an_erased_open_case_is_no_follow_up(office):
    from storage.privacy import erase

    with transaction(office.sessions) as s:
        case = run(office, s, [wib(2025, 4, 8, 9)])
    with transaction(office.sessions) as s:
        erase(s, office.cases, citizen=None, case=office.cases.get(s, case.ticket), by="admin", reason="permintaan",
              now=wib(2025, 4, 10, 9), force=True)
    t = april(office).follow_up.total
    assert (t.followed_up, t.ended, t.open) == (0, 1, 0)


# -- the workflow says which states count --------------------------------------------------
@pytest.mark.parametrize("name", preset_names())
def test_every_preset_declares_its_follow_up_states(name):
    wf = load_workflow(name)
    states = follow_up_states(wf)
    assert wf.reporting is not None
    assert "answered" in states.followed_up and "archived" in states.ended
    assert states.referred == ("referred",) and states.rejected == ("rejected",)
    # the unit's answer leads there: the answering transition ends in a followed-up state
    assert any(t.trigger == "answer" and t.dest in states.followed_up for t in wf.transitions)
    assert not set(states.followed_up) & set(states.waiting)


def _preset_with(reporting: str, name="sp4n-lapor") -> str:
    from importlib import resources

    text = (resources.files("flows") / "presets" / f"{name}.toml").read_text(encoding="utf-8")
    return text[:text.index("[reporting]")] + reporting


@pytest.mark.parametrize("reporting, problem", [
    ('[reporting]\nfollowed_up = ["answered", "closed", "needs_info"]\n', "'needs_info' can be reached without"),
    ('[reporting]\nfollowed_up = ["in_progress"]\n', "'in_progress' can be reached without"),
    ('[reporting]\nfollowed_up = ["answered"]\nreferred = ["disposed"]\n', "'disposed' is not final"),
    ('[reporting]\nfollowed_up = ["answered"]\nrejected = ["answered"]\n', "already in reporting.followed_up"),
    ('[reporting]\nfollowed_up = ["answerd"]\n', "unknown state 'answerd'"),
    ('[reporting]\nfollowed_up = []\n', "name the states"),
])
def test_a_wrong_reporting_table_is_refused(reporting, problem):
    with pytest.raises(WorkflowError) as err:
        parse_workflow(_preset_with(reporting))
    assert "reporting." in str(err.value) and problem in str(err.value)


def test_what_the_report_counts_as_followed_up_stops_the_ombudsman_watch():
    text = _preset_with('[reporting]\nfollowed_up = ["completing", "answered", "closed"]\n', "bps-kaltim")
    assert parse_workflow(text).reporting.followed_up[0] == "completing"
    text = text.replace('followed_up = ["completing", "answered", "closed", "referred"',
                        'followed_up = ["answered", "closed", "referred"')
    with pytest.raises(WorkflowError, match="would still go to the Ombudsman"):
        parse_workflow(text)


def test_without_a_reporting_table_the_verdict_states_count():
    text = _preset_with("")
    assert follow_up_states(parse_workflow(text)).followed_up == ("answered", "closed")
