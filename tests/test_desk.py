"""The officer service itself (handlers.desk), as the web back office will call it: who sees
which case, overdue, queue order, search, stale versions, roles, the walk-in record."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from handlers.desk import Desk
from handlers.desk_views import CaseHidden, CaseNotFound, Filters, NeedsInput, NotAllowed, Stale, WalkIn
from storage.errors import InvalidInput
from storage.models import CaseEvent, Officer
from storage.officers import invite
from storage.units import add_unit
from tests.conftest import wib

NOW = wib(2025, 4, 8, 9, 0)  # a Tuesday
FEB = wib(2025, 2, 18, 9, 0)  # a Tuesday with no holiday near: the clocks count plain days


@pytest.fixture
def office(make_runtime):
    rt = make_runtime(clock=lambda: NOW)
    ids = {}
    with rt.transaction() as s:
        add_unit(s, "KEU", "Bagian Keuangan")
        add_unit(s, "PU", "Pekerjaan Umum")
        for key, role, unit, name in (("admin", "admin", None, "Ani"), ("keu", "unit_officer", "KEU", "Budi"),
                                      ("pu", "unit_officer", "PU", None), ("boss", "leadership", None, "Kepala")):
            ids[key] = invite(s, rt.workflow, role, unit, name=name, now=NOW)[0].id
    rt.ids = ids
    rt.desk = Desk(rt.conversation.office)
    return rt


def who(s, rt, key) -> Officer:
    return s.get(Officer, rt.ids[key])


def open_case(s, rt, text="Lampu jalan mati", at=NOW, **kw) -> str:
    args = {"kind": "pengaduan", "channel": "webchat", "now": at, **kw}
    return rt.conversation.office.cases.open_case(s, text=text, **args).ticket


def disposed_to(s, rt, ticket, unit, at=NOW) -> None:
    rt.desk.act(s, who(s, rt, "admin"), ticket, "dispose", unit_code=unit, now=at)


def test_a_unit_officer_gets_no_other_units_case_and_learns_nothing(office):
    rt, desk = office, office.desk
    with rt.transaction() as s:
        mine, theirs, fresh = open_case(s, rt), open_case(s, rt), open_case(s, rt)
        disposed_to(s, rt, mine, "KEU")
        disposed_to(s, rt, theirs, "PU")
        keu = who(s, rt, "keu")
        assert desk.case(s, keu, mine).unit.code == "KEU"
        for ticket in (theirs, fresh):  # another unit's, and one not forwarded yet
            for call in (lambda: desk.case(s, keu, ticket), lambda: desk.note(s, keu, ticket, "x"),
                         lambda: desk.act(s, keu, ticket, "start"), lambda: desk.escalate(s, keu, ticket, "x"),
                         lambda: desk.lapor_id(s, keu, ticket, "LAP-1"), lambda: desk.needs(s, keu, ticket, "start")):
                with pytest.raises(CaseNotFound) as hidden:
                    call()
                assert type(hidden.value) is CaseHidden
                assert (str(hidden.value), hidden.value.key) == (f"no case {ticket!r}", "error.no_case")
        with pytest.raises(CaseNotFound) as missing:
            desk.case(s, keu, "ADU-2025-999999")
        assert (str(missing.value), missing.value.key) == ("no case 'ADU-2025-999999'", "error.no_case")
        assert [i.ticket for i in desk.queue(s, keu, "unit", now=NOW).items] == [mine]
        assert [i.ticket for i in desk.search(s, keu, Filters(), now=NOW).items] == [mine]
        assert desk.search(s, keu, Filters(ticket=theirs), now=NOW).total == 0
        assert desk.search(s, keu, Filters(unit="pu"), now=NOW).total == 0
        assert s.scalar(select(CaseEvent).where(CaseEvent.action == "note")) is None  # nothing written
        for key in ("boss", "admin"):  # the leadership and the coordinators: all of the office
            boss = who(s, rt, key)
            assert {desk.case(s, boss, t).ticket for t in (mine, theirs, fresh)} == {mine, theirs, fresh}
            assert {i.ticket for i in desk.queue(s, boss, "unit", now=NOW).items} == {mine, theirs, fresh}
            assert desk.search(s, boss, Filters(), now=NOW).total == 3
        assert desk.case(s, who(s, rt, "boss"), theirs).actions == ()  # sees it; nothing to do there


def test_the_queue_is_soonest_deadline_first_and_marks_overdue(office):
    rt, desk = office, office.desk
    with rt.transaction() as s:
        admin = who(s, rt, "admin")
        late = open_case(s, rt, at=wib(2025, 2, 10, 9, 0))  # due Thursday 13 February
        later = open_case(s, rt, at=wib(2025, 2, 17, 9, 0))  # due 20 February
        soon = open_case(s, rt, at=wib(2025, 2, 14, 9, 0))  # due 19 February
        waiting = open_case(s, rt, at=wib(2025, 2, 3, 9, 0))  # due 6 February, but paused on the 5th
        desk.act(s, admin, waiting, "request_info", note="Lokasinya di mana?", now=wib(2025, 2, 5, 9, 0))
        page = desk.queue(s, admin, "mine", now=FEB)
        assert [i.ticket for i in page.items] == [late, soon, later]  # needs_info waits on the citizen
        assert [i.overdue for i in page.items] == [True, False, False]
        assert [i.due_local.day for i in page.items] == [13, 19, 20]
        assert page.items[0].due_local.tzinfo.key == "Asia/Jakarta"
        every = desk.queue(s, admin, "unit", now=FEB)
        assert [i.ticket for i in every.items] == [waiting, late, soon, later]  # the paused clock is soonest
        # A paused clock is not late: the case waits on the citizen, not the office.
        view = desk.case(s, admin, waiting, FEB)
        received = next(c for c in view.clocks if c.stage == "received")
        assert received.paused and not received.overdue and received.due_at < FEB
        assert not view.overdue and view.deadline.stage == "needs_info" and not view.deadline.overdue
        assert [i.overdue for i in every.items] == [False, True, False, False]
        assert desk.statistics(s, admin, FEB).overdue == 1
        assert [i.ticket for i in desk.search(s, admin, Filters(overdue=True), now=FEB).items] == [late]
        assert [i.overdue for i in desk.queue(s, admin, "mine", now=FEB + timedelta(days=2)).items] == [True, True, False]
        small = desk.queue(s, admin, "mine", page=1, now=FEB, page_size=2)
        assert ([i.ticket for i in small.items], small.total, small.pages, small.has_next) == ([later], 3, 2, False)
        with pytest.raises(InvalidInput):
            desk.queue(s, admin, "everything", now=FEB)


def test_search_filters_combine_over_visible_cases(office):
    rt, desk = office, office.desk
    with rt.transaction() as s:
        admin = who(s, rt, "admin")
        a = open_case(s, rt, "Jalan berlubang 100% parah", at=wib(2025, 2, 3, 10, 0), category="jalan")
        b = open_case(s, rt, "Air PDAM keruh", at=wib(2025, 2, 12, 23, 30), category="air", channel="whatsapp")
        c = open_case(s, rt, "Usul taman kota", at=wib(2025, 2, 17, 8, 0), kind="aspirasi")
        disposed_to(s, rt, b, "PU", at=wib(2025, 2, 13, 9, 0))
        desk.lapor_id(s, admin, c, "LAP-77", now=FEB)

        def found(**kw):
            return [i.ticket for i in desk.search(s, admin, Filters(**kw), now=FEB).items]
        assert found() == [c, b, a]  # newest first
        assert found(category="air") == [b] and found(channel="whatsapp") == [b] and found(kind="aspirasi") == [c]
        assert found(state="disposed") == [b] and found(unit="pu") == [b] and found(unit="KEU") == []
        assert found(stage="received") == [c, a] and found(stage="disposed") == [b]
        assert found(ticket=a.lower()[-6:]) == [a]
        assert found(text="pdam") == [b] and found(text="lap-77") == [c] and found(text="100%") == [a]
        assert found(text="%") == [a]  # a wildcard is a character here
        # 12 February 23.30 WIB is 16.30 UTC: office days decide
        assert found(opened_from=date(2025, 2, 12), opened_to=date(2025, 2, 12)) == [b]
        assert found(opened_from=date(2025, 2, 13)) == [c]
        assert found(opened_to=date(2025, 2, 11)) == [a]
        assert found(category="air", kind="aspirasi") == []
        assert found(overdue=True) == [a] and found(overdue=False) == [c, b]
        two = desk.search(s, admin, Filters(), page=0, now=FEB, page_size=2)
        assert (len(two.items), two.total, two.has_next) == (2, 3, True)


def test_acting_on_an_old_version_is_a_conflict_that_says_who_acted(office):
    rt, desk = office, office.desk
    with rt.transaction() as s:
        ticket = open_case(s, rt)
        admin = who(s, rt, "admin")
        seen = desk.case(s, admin, ticket, NOW)
        assert [a.trigger for a in seen.actions] == ["verify", "request_info", "refer", "reject", "dispose"]
        done = desk.act(s, admin, ticket, "verify", version=seen.version, now=NOW)
        assert (done.action.trigger, done.case.state, done.case.version) == ("verify", "verified", 2)
        with pytest.raises(Stale) as stale:
            desk.act(s, admin, ticket, "reject", note="bukan aduan", version=seen.version, now=NOW)
        assert (stale.value.state, stale.value.last.action, stale.value.last.officer_name) == ("verified", "verify", "Ani")
        with pytest.raises(Stale):  # no version, but the state no longer has this action
            desk.act(s, admin, ticket, "verify", now=NOW)
        with pytest.raises(NeedsInput) as asked:
            desk.act(s, admin, ticket, "dispose", version=2, now=NOW)
        assert asked.value.needs == "unit" and [u.code for u in asked.value.units] == ["KEU", "PU"]
        with pytest.raises(NeedsInput) as asked:
            desk.act(s, admin, ticket, "reject", now=NOW)
        assert (asked.value.needs, asked.value.action.trigger) == ("note", "reject")
        assert desk.case(s, admin, ticket, NOW).state == "verified"


def test_a_role_may_only_do_what_the_workflow_gives_it(office):
    rt, desk = office, office.desk
    with rt.transaction() as s:
        ticket = open_case(s, rt)
        disposed_to(s, rt, ticket, "KEU")
        keu = who(s, rt, "keu")
        with pytest.raises(NotAllowed):
            desk.act(s, keu, ticket, "close", now=NOW)  # an admin's action
        with pytest.raises(NotAllowed):
            desk.lapor_id(s, keu, ticket, "LAP-1", now=NOW)  # the coordinators keep LAPOR! ids
        with pytest.raises(Stale):
            desk.act(s, keu, ticket, "answer", note="Sudah", now=NOW)  # theirs, but not yet
        assert [a.trigger for a in desk.case(s, keu, ticket, NOW).actions] == ["start"]
        assert desk.act(s, keu, ticket, "start", now=NOW).case.state == "in_progress"
        admin = who(s, rt, "admin")
        for bad in ("", "LAP 1", "x" * 41):
            with pytest.raises(InvalidInput):
                desk.lapor_id(s, admin, ticket, bad, now=NOW)
        desk.lapor_id(s, admin, ticket, " LAP-9 ", now=NOW)
        with pytest.raises(NeedsInput):
            desk.escalate(s, keu, ticket, "  ", now=NOW)
        desk.escalate(s, keu, ticket, "Butuh anggaran", now=NOW)
        desk.note(s, keu, ticket, "Sudah dicek ke lapangan", now=NOW)
        view = desk.case(s, who(s, rt, "boss"), ticket, NOW)
        assert view.lapor_id == "LAP-9" and view.escalated_at == NOW
        assert [(n.note, n.officer_name) for n in view.notes] == [("Sudah dicek ke lapangan", "Budi")]
        assert [e.action for e in view.history] == ["open", "dispose", "start", "lapor_id", "escalate", "note"]
        assert all(not e.public for e in view.history[-3:])


def test_a_walk_in_record_opens_the_case_in_one_call(office):
    rt, desk = office, office.desk
    with rt.transaction() as s:
        keu = who(s, rt, "keu")
        with pytest.raises(InvalidInput):
            desk.record_walk_in(s, keu, WalkIn(source="telegram", kind="pengaduan", text="x"), NOW)
        with pytest.raises(InvalidInput):
            desk.record_walk_in(s, keu, WalkIn(source="phone", kind="pengaduan", text="x", email="bukan-email"), NOW)
        view = desk.record_walk_in(s, keu, WalkIn(
            source="front_desk", kind="pengaduan", text="Antrean loket lama", name="Siti", phone="0812-3456-7890",
            attachments=({"kind": "photo", "ref": "file-1", "content_type": "image/jpeg", "size": 2048},)), NOW)
        assert (view.state, view.channel, view.reporter.phone, view.reporter.name) == \
            ("received", "front_desk", "+6281234567890", "Siti")
        assert [(a.media_type, a.size) for a in view.attachments] == [("photo", 2048)]
        assert view.actions == ()  # a unit officer records it; the coordinators verify it
        assert view.deadline.stage == "received" and view.deadline.due_local.tzinfo.key == "Asia/Jakarta"
        anon = desk.record_walk_in(s, keu, WalkIn(source="phone", kind="pengaduan", text="Pungli di loket",
                                                  privacy="anonim", name="Rahasia"), NOW)
        assert desk.case(s, who(s, rt, "admin"), anon.ticket, NOW).reporter is None
        stats = desk.statistics(s, keu, NOW)
        assert (stats.total, stats.by_state, stats.new_this_month) == (2, {"received": 2}, 2)
