"""Acknowledge first, handle in order: a 2xx means the delivery is stored; the inbound
workers (bot.inbound) handle each chat's messages in order, their effects exactly once."""
import threading
import time

import pytest
import sqlalchemy
from sqlalchemy import select

import handlers.inbound
import storage.acknowledgements
import storage.burst_leases
import storage.inbound
from bot.app import create_app
from flows.messages import Inbound
from storage.models import InboundMessage, Outbox
from tests.chat import Chat, enrol
from tests.conftest import REDIS_URL

SECRET = "ack-secret"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


def update(uid, text, chat=4242):
    return {"update_id": uid, "message": {
        "message_id": uid, "date": 1744077600, "text": text, "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "Siti", "language_code": "id"}}}


def stored(runtime, office, chat, uid):
    """A web chat message of this office's chat, acknowledged (stored, not handled)."""
    storage.acknowledgements.store(runtime.ack_engine, office, "webchat", uid,
                                   Inbound("webchat", chat, uid, text="halo"), runtime.clock())


def rows(runtime, model=InboundMessage, **where):
    with runtime.sessions() as s:
        return s.scalars(select(model).filter_by(**where).order_by(model.id)).all()


def test_a_2xx_means_stored_and_the_next_worker_handles_it(make_runtime):
    """The web process answers once the row is committed and dies before handling it: a
    worker started afterwards (another runtime on the same database) handles it."""
    web = make_runtime(handle=False, telegram={"secret_token": SECRET})
    r = create_app(runtime=web).test_client().post("/webhooks/telegram", json=update(1, "/mulai"), headers=HEADERS)
    assert r.status_code == 200
    [row] = rows(web, channel="telegram")
    assert row.handled_at is None and row.payload["pending"]["text"] == "/mulai"
    assert rows(web, Outbox, chat_id="4242") == []
    web.close()

    worker = make_runtime(handle=False, telegram={"secret_token": SECRET})
    assert worker.inbound.drain() >= 1
    [row] = rows(worker, channel="telegram")
    assert row.handled_at is not None
    assert row.payload == {"event": "message", "command": "mulai"}  # reduced to the outline
    assert rows(worker, Outbox, chat_id="4242")


def test_a_duplicate_delivery_changes_nothing(make_runtime):
    runtime = make_runtime(telegram={"secret_token": SECRET})
    client = create_app(runtime=runtime).test_client()
    assert client.post("/webhooks/telegram", json=update(7, "/mulai"), headers=HEADERS).status_code == 200
    replies = len(rows(runtime, Outbox, chat_id="4242"))
    assert replies
    assert client.post("/webhooks/telegram", json=update(7, "/mulai"), headers=HEADERS).status_code == 200
    assert len(rows(runtime, channel="telegram")) == 1 and len(rows(runtime, Outbox, chat_id="4242")) == replies


class Died(BaseException):
    """The worker process dies (kill -9, OOM) mid-handling: nothing after this runs."""


def test_a_worker_dying_after_the_effects_before_the_commit_leaves_no_effect(make_runtime, monkeypatch):
    runtime = make_runtime(handle=False)
    runtime.receive("webchat", "w-a:1", Inbound("webchat", "w-a", "w-a:1", text="/mulai"), {})
    mark = storage.inbound.mark_handled

    def die(*args):
        raise Died  # the replies are in the session, unflushed or flushed, not committed

    monkeypatch.setattr(storage.inbound, "mark_handled", die)
    with pytest.raises(Died):
        runtime.inbound.drain()
    [row] = rows(runtime, chat_id="w-a")
    assert row.handled_at is None and row.tries == 0 and rows(runtime, Outbox, chat_id="w-a") == []
    monkeypatch.setattr(storage.inbound, "mark_handled", mark)
    assert runtime.inbound.drain() >= 1
    # exactly the replies of one handling: as many as the same message gives another chat
    runtime.receive("webchat", "w-b:1", Inbound("webchat", "w-b", "w-b:1", text="/mulai"), {})
    runtime.inbound.drain()
    once = [o.payload["text"] for o in rows(runtime, Outbox, chat_id="w-b")]
    assert [o.payload["text"] for o in rows(runtime, Outbox, chat_id="w-a")] == once


def test_two_workers_keep_each_chat_in_order_and_handle_every_message_once(make_runtime, monkeypatch):
    """Two workers (two runtimes: their own engines, as two processes) drain three chats of
    eight messages each at once; every chat's messages are handled in the order stored."""
    web = make_runtime(handle=False)
    chats, per_chat = ["w-c1", "w-c2", "w-c3"], 8
    for n in range(per_chat):
        for chat in chats:
            runtime_inbound = Inbound("webchat", chat, f"{chat}:{n}", text=f"pesan {n}")
            web.receive("webchat", runtime_inbound.provider_message_id, runtime_inbound, {})
    seen, who = [], {}
    route = handlers.inbound.route

    def watched(session, citizens, officers, inbound, now):
        seen.append((inbound.chat_id, inbound.text))
        who.setdefault(threading.current_thread().name, 0)
        who[threading.current_thread().name] += 1
        time.sleep(0.005)  # long enough for the other worker to try the same chat
        return route(session, citizens, officers, inbound, now)

    monkeypatch.setattr(handlers.inbound, "route", watched)
    workers = [make_runtime(handle=False) for _ in range(2)]
    threads = [threading.Thread(target=w.inbound.drain, name=f"worker{n}") for n, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for chat in chats:
        assert [text for c, text in seen if c == chat] == [f"pesan {n}" for n in range(per_chat)]
    assert len(seen) == len(chats) * per_chat  # no message was handled twice (no rolled-back attempt)
    assert all(r.handled_at is not None for chat in chats for r in rows(web, chat_id=chat))
    if web.engine.dialect.name == "postgresql":
        assert len(who) == 2, who  # both workers really worked, side by side


def test_a_poison_message_is_set_aside_after_max_tries_and_the_coordinators_are_told(make_runtime, monkeypatch):
    runtime = make_runtime(inbound={"max_tries": 3})
    coordinator = enrol(runtime, runtime.workflow.roles_of_kind("coordinator")[0],
                        channel="telegram", chat_id="t-koordinator")
    route, attempts = handlers.inbound.route, []

    def fragile(session, citizens, officers, inbound, now):
        if inbound.text == "racun":
            attempts.append(1)
            raise ValueError("a bug this message finds")
        return route(session, citizens, officers, inbound, now)

    monkeypatch.setattr(handlers.inbound, "route", fragile)
    citizen = Chat(runtime, channel="telegram", chat_id="t-warga")
    assert citizen.say("racun") == []
    assert len(attempts) == 3
    [row] = rows(runtime, provider_message_id=citizen_last_id(runtime, "t-warga"))
    assert row.set_aside_at is not None and row.tries == 3 and "pending" not in row.payload
    [notice] = [p["text"] for p in coordinator.pop()]
    assert f"nomor {row.id}" in notice and "3 kali" in notice and "racun" not in notice
    assert citizen.say("/mulai")  # the chat's later messages are handled


def citizen_last_id(runtime, chat):
    with runtime.sessions() as s:
        return s.scalar(select(InboundMessage.provider_message_id).where(InboundMessage.chat_id == chat)
                        .order_by(InboundMessage.id.desc()).limit(1))


def test_ignored_deliveries_are_stored_handled(make_runtime):
    runtime = make_runtime(handle=False)
    assert runtime.receive("telegram", "99", None, {})
    [row] = rows(runtime, provider_message_id="99")
    assert row.handled_at is not None and row.payload == {"event": "ignored"}


def test_a_message_the_database_refuses_is_set_aside_and_other_chats_go_on(make_runtime, monkeypatch):
    """A statement or lock timeout is an OperationalError although the database answers:
    the message's fault, so it counts as a try, and it never holds up the other chats."""
    from sqlalchemy.exc import OperationalError

    runtime = make_runtime(inbound={"max_tries": 2}, handle=False)
    route = handlers.inbound.route

    def timing_out(session, citizens, officers, inbound, now):
        if inbound.text == "lambat":
            raise OperationalError("SELECT ...", {}, Exception("canceling statement due to statement timeout"))
        return route(session, citizens, officers, inbound, now)

    monkeypatch.setattr(handlers.inbound, "route", timing_out)
    slow, other = Chat(runtime, channel="telegram", chat_id="t-lambat"), Chat(runtime, channel="telegram",
                                                                              chat_id="t-lain")
    slow.say("lambat")  # stored first: the oldest chat with work
    other.say("/mulai")
    runtime.inbound.drain()
    assert other.pop()  # answered although the older chat's message failed in the database
    [row] = rows(runtime, chat_id="t-lambat")
    assert row.set_aside_at is not None and row.tries == 2


def test_one_office_s_burst_does_not_queue_another_office_behind_it(make_runtime):
    """Fair across offices: a round takes every office's longest-waiting chat before any
    office's second, so a quiet office's citizen is handled in the first round however
    long the flooding office's backlog."""
    from storage.offices import add_office

    rt = make_runtime(handle=False, telegram={"secret_token": SECRET})
    with rt.transaction() as s:
        quiet = add_office(s, "sepi", {"office": {"name": "Kantor Sepi"}}).id
        other = add_office(s, "lain", {"office": {"name": "Kantor Lain"}}).id
    flood = [(1, f"flood-{n}") for n in range(40)]  # 40 chats of the first office, first in
    late = [(quiet, "q-1"), (other, "o-1"), (quiet, "q-2")]
    for n, (office, chat) in enumerate(flood + late):
        storage.acknowledgements.store(rt.ack_engine, office, "webchat", f"m{n}", Inbound("webchat", chat, f"m{n}", text="halo"),
                              rt.clock())
    with rt.sessions() as s:
        round_ = storage.inbound.pending_chats(s, limit=6)
    assert round_[:3] == [(1, "webchat", "flood-0"), (quiet, "webchat", "q-1"), (other, "webchat", "o-1")]
    assert round_[3:] == [(1, "webchat", "flood-1"), (quiet, "webchat", "q-2"), (1, "webchat", "flood-2")]
    # And the loop handles each in its own office: the quiet office's citizen hears its name.
    assert rt.inbound.run_once() >= 6
    with rt.sessions() as s:
        text = s.scalar(select(Outbox.payload).where(Outbox.chat_id == "q-1", Outbox.office_id == quiet))["text"]
    assert "Kantor Sepi" in text


def test_an_office_s_message_arriving_mid_round_is_served_before_the_burst_s_rest(make_runtime, monkeypatch):
    """A round full of one office's burst: another office's message stored while the round
    runs is handled next (after one more message of the burst at most), not after the
    round; and it is taken once a round, so the burst's own arrivals never starve it.
    (A message a transaction each: the turns between batches; a batch's own early end is
    the next test's.)"""
    from bot.inbound import ROUND, InboundLoop
    from storage.offices import add_office

    rt = make_runtime(handle=False, inbound={"batch": 1})
    with rt.transaction() as s:
        quiet = add_office(s, "sepi", {"office": {"name": "Kantor Sepi"}}).id

    def put(office, chat, n):
        storage.acknowledgements.store(rt.ack_engine, office, "webchat", f"m{n}", Inbound("webchat", chat, f"m{n}", text="halo"),
                              rt.clock())

    for n in range(3 * ROUND):
        put(1, f"flood-{n}", n)
    order = []
    handle_next = InboundLoop.handle_next

    def recorded(self, office_id, channel, chat_id):
        order.append(chat_id)
        if len(order) == 2:  # mid-round: the quiet office's citizen writes, and the burst goes on
            put(quiet, "q-1", 1000)
            put(1, "flood-late", 1001)
        return handle_next(self, office_id, channel, chat_id)

    monkeypatch.setattr(InboundLoop, "handle_next", recorded)
    assert rt.inbound.run_once() == ROUND
    assert "q-1" in order[2:4], order  # next, or after one more of the burst
    assert "flood-late" not in order  # the burst's office was in the round: its new chat waits
    assert len(order) == ROUND


def test_an_office_s_message_behind_many_arrivals_of_the_burst_is_still_seen_mid_round(make_runtime, monkeypatch):
    """Each look at what arrived goes on from the newest message the last look saw: an
    office's message stored behind more of the burst's arrivals than one look reads is
    seen at the next look, within the round. (Chat names of its own: PostgreSQL's
    advisory locks are the database's, shared by the tests running beside it.)"""
    from bot.inbound import ROUND, InboundLoop
    from storage.offices import add_office

    rt = make_runtime(handle=False, inbound={"batch": 1})
    with rt.transaction() as s:
        quiet = add_office(s, "sepi", {"office": {"name": "Kantor Sepi"}}).id

    def put(office, chat, n):
        storage.acknowledgements.store(rt.ack_engine, office, "webchat", f"m{n}",
                                       Inbound("webchat", chat, f"m{n}", text="halo"), rt.clock())

    for n in range(3 * ROUND):
        put(1, f"busy-{n}", n)
    order, handle_next = [], InboundLoop.handle_next

    def recorded(self, office_id, channel, chat_id):
        order.append(chat_id)
        if len(order) == 2:
            for n in range(150):  # more than one look reads (storage.inbound.arrivals_since)
                put(1, f"busy-late-{n}", 1000 + n)
            put(quiet, "q-many", 2000)
        return handle_next(self, office_id, channel, chat_id)

    monkeypatch.setattr(InboundLoop, "handle_next", recorded)
    rt.inbound.run_once()
    assert "q-many" in order[2:6], order


def test_a_batch_ends_early_for_another_office_s_message(make_runtime, monkeypatch):
    """A worker handles a burst's chats a batch at a time (one transaction); another
    office's message committed meanwhile ends the batch after the message in hand, with
    what was done committed, and is handled next. (PostgreSQL: on SQLite nothing else
    commits while a batch holds the one writer.)"""
    import bot.inbound
    from storage.offices import add_office

    rt = make_runtime(handle=False, inbound={"batch": 8})
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: no message is stored while a batch runs")
    with rt.transaction() as s:
        quiet = add_office(s, "sepi", {"office": {"name": "Kantor Sepi"}}).id

    def put(office, chat, n):
        storage.acknowledgements.store(rt.ack_engine, office, "webchat", f"m{n}",
                                       Inbound("webchat", chat, f"m{n}", text="halo"), rt.clock())

    for n in range(8):
        put(1, f"early-{n}", n)
    order, handle = [], bot.inbound.handle

    def recorded(session, citizens, officers, row, now, **kw):
        order.append(row.chat_id)
        handle(session, citizens, officers, row, now, **kw)
        if len(order) == 2:  # the quiet office's citizen writes while the batch is half done
            put(quiet, "q-early", 100)

    monkeypatch.setattr(bot.inbound, "handle", recorded)
    assert rt.inbound.run_once() == 9
    assert order[2] == "q-early", order
    assert sorted(order) == sorted([f"early-{n}" for n in range(8)] + ["q-early"])  # each once
    assert all(r.handled_at is not None for r in rows(rt, channel="webchat"))


def test_a_batch_is_one_transaction_with_the_same_effects_as_one_by_one(make_runtime):
    """Six chats' messages in one round: two batches of three (a batch takes at most half
    the round's chats, leaving the rest to another worker), a commit each, and each
    chat's replies are those the same message gets handled alone."""
    rt = make_runtime(handle=False, inbound={"batch": 8})
    for n in range(6):
        rt.receive("webchat", f"b{n}:1", Inbound("webchat", f"w-b{n}", f"b{n}:1", text="/mulai"), {})
    assert len(commits_of(rt, rt.inbound.run_once, 6)) == 2
    rt.inbound.batch = 1
    rt.receive("webchat", "alone:1", Inbound("webchat", "w-alone", "alone:1", text="/mulai"), {})
    assert rt.inbound.run_once() == 1
    alone = [o.payload for o in rows(rt, Outbox, chat_id="w-alone")]
    assert alone
    for n in range(6):
        assert [o.payload for o in rows(rt, Outbox, chat_id=f"w-b{n}")] == alone


def commits_of(rt, call, handled):
    from sqlalchemy import event

    commits = []

    def committed(conn):
        commits.append(conn)

    event.listen(rt.engine, "commit", committed)
    try:
        assert call() == handled
    finally:
        event.remove(rt.engine, "commit", committed)
    return commits


def test_a_failing_message_takes_its_batch_back_and_the_others_are_handled_once(make_runtime, monkeypatch):
    """One message of a batch raises: the batch's transaction is rolled back and its chats
    handled one by one, so the others' replies are written once and the failing message
    alone counts a try."""
    rt = make_runtime(handle=False, inbound={"batch": 8})
    route = handlers.inbound.route

    def fragile(session, citizens, officers, inbound, now):
        result = route(session, citizens, officers, inbound, now)
        if inbound.chat_id == "w-racun":  # after its effects are in the session
            raise ValueError("a bug this message finds")
        return result

    monkeypatch.setattr(handlers.inbound, "route", fragile)
    for chat in ("w-fa", "w-racun", "w-fb", "w-fc", "w-fd", "w-fe"):  # batches of three
        rt.receive("webchat", f"{chat}:1", Inbound("webchat", chat, f"{chat}:1", text="/mulai"), {})
    assert rt.inbound.run_once() == 5
    a, *others = ([o.payload for o in rows(rt, Outbox, chat_id=chat)] for chat in ("w-fa", "w-fb", "w-fc", "w-fd", "w-fe"))
    assert a and all(o == a for o in others)  # once each: the failed batch's attempt left nothing
    [bad] = rows(rt, chat_id="w-racun")
    assert bad.handled_at is None and bad.tries == 1 and rows(rt, Outbox, chat_id="w-racun") == []


def test_a_chat_s_context_read_with_the_batch_is_read_again_once_its_rows_changed(make_runtime):
    """A batch reads every chat's identity and dialog before handling the first: when an
    earlier message of the batch adds or deletes such a row of a later chat, that chat's
    handling reads it afresh."""
    from datetime import timedelta

    from storage import dialogs

    rt = make_runtime(handle=False)
    for chat in ("w-x", "w-y"):
        rt.receive("webchat", f"{chat}:1", Inbound("webchat", chat, f"{chat}:1", text="halo"), {})
    now = rt.clock()
    with rt.transaction() as s:
        assert len(storage.inbound.next_of_chats(s, [("webchat", "w-x"), ("webchat", "w-y")])) == 2
        # an earlier message starts a dialog for w-y (as an officer's action may for a
        # citizen), not flushed yet, and one for w-x, flushed
        dialogs.save(s, "webchat", "w-x", {"step": "lain"}, now, timedelta(hours=1))
        s.flush()
        dialogs.save(s, "webchat", "w-y", {"step": "lain"}, now, timedelta(hours=1))
        storage.inbound.message_done(s)
        assert dialogs.load(s, "webchat", "w-y", now) == {"step": "lain"}
        assert dialogs.load(s, "webchat", "w-x", now) == {"step": "lain"}
        s.rollback()


def test_a_batch_s_replies_kept_for_one_statement_are_seen_by_any_outbox_query(make_runtime):
    """A batch writes its messages' replies in one statement at its end; a query on the
    outbox before then (a later message's erasure clearing its chat's rows, a web chat
    session ended) writes them first, so it finds them."""
    from flows.messages import Reply
    from storage.outbox import enqueue

    rt = make_runtime(handle=False)
    with rt.transaction() as s:
        with storage.inbound.batched(s):
            enqueue(s, "webchat", "w-kept", Reply("jawaban petugas"), now=rt.clock())
            enqueue(s, "webchat", "w-kept", Reply("pesan kedua"), now=rt.clock())
            found = s.scalars(select(Outbox.payload).where(Outbox.chat_id == "w-kept").order_by(Outbox.id)).all()
            assert [p["text"] for p in found] == ["jawaban petugas", "pesan kedua"]
            enqueue(s, "webchat", "w-kept", Reply("sesudahnya"), now=rt.clock())
    assert [o.payload["text"] for o in rows(rt, Outbox, chat_id="w-kept")] == [
        "jawaban petugas", "pesan kedua", "sesudahnya"]  # each once, in order


def test_a_chat_with_a_long_backlog_at_its_office_s_head_hides_no_other_chat(make_runtime):
    """The plan reads the head of each office's queue; when a few chats' backlogs fill it,
    the office is read whole, so the chats behind them are still in the round."""
    rt = make_runtime(handle=False)
    n = 0
    for chat, count in (("busy", 120), ("a", 1), ("b", 1), ("busy-2", 30), ("c", 1)):
        for _ in range(count):
            n += 1
            storage.acknowledgements.store(rt.ack_engine, 1, "webchat", f"m{n}", Inbound("webchat", chat, f"m{n}", text="x"),
                                  rt.clock())
    with rt.sessions() as s:
        assert [c for _, _, c in storage.inbound.pending_chats(s, limit=5)] == ["busy", "a", "b", "busy-2", "c"]
        assert [c for _, _, c in storage.inbound.pending_chats(s, limit=2)] == ["busy", "a"]


@pytest.mark.skipif(not REDIS_URL, reason="web and worker apart need a real Redis between them")
def test_a_worker_apart_hears_of_a_stored_message_at_once(make_runtime):
    """A web process (gunicorn) cannot wake another process's loop: it nudges the workers
    through Redis, so a worker that looks only every 5 s starts on the message at once."""
    import redis as redis_client

    redis_client.Redis.from_url(REDIS_URL).flushdb()
    sections = {"telegram": {"secret_token": SECRET}, "redis": {"url": REDIS_URL},
                "inbound": {"poll_seconds": 5.0}}
    web = make_runtime(handle=False, **sections)
    worker = make_runtime(handle=False, **sections)
    worker.inbound.start()
    try:
        time.sleep(0.3)  # the loop has looked once and waits
        began = time.monotonic()
        r = create_app(runtime=web).test_client().post("/webhooks/telegram", json=update(7, "/mulai"), headers=HEADERS)
        assert r.status_code == 200
        while not rows(worker, Outbox, chat_id="4242") and time.monotonic() - began < 5:
            time.sleep(0.02)
        assert rows(worker, Outbox, chat_id="4242") and time.monotonic() - began < 2.0
    finally:
        worker.inbound.stop()


def test_a_worker_that_leaves_a_burst_to_another_is_not_woken_by_it():
    """The nudges say whose message was stored: a worker waiting while another works an
    office's burst sleeps through that office's nudges (during a flood they come all the
    time) and wakes for another office's."""
    import redis as redis_client
    from storage.redis_store import Nudges

    if not REDIS_URL:
        pytest.skip("needs a Redis server (ADUAN_TEST_REDIS_URL)")
    from storage.redis_store import connect

    redis_client.Redis.from_url(REDIS_URL).flushdb()
    # as the web processes and the workers talk to Redis; at most a push a minute per office
    web, worker = Nudges(connect(REDIS_URL), every=60), Nudges(connect(REDIS_URL))
    for _ in range(3):
        web.push(1, force=True)
    assert worker.wait(0.2, ignore={1}) is None  # the burst's three nudges, slept through
    web.push(7)
    assert worker.wait(2.0, ignore={1}) == 7
    web.push(1, force=True)
    assert worker.wait(2.0) == 1  # a worker that leaves no burst wakes for any
    web.push(7)  # at most one push a moment for an office from a process
    assert worker.wait(0.1) is None
    web.push(8)  # another office's is its own
    assert worker.wait(2.0) == 8


def test_a_lease_refused_is_asked_for_again_only_after_a_moment(make_runtime):
    """A worker left free asks for a burst's lease at most every RETRY_LEASE seconds, not
    every round (a round trip each); once the holder lets go, the next ask takes it."""
    from sqlalchemy import event

    runtime = make_runtime(handle=False)
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("on SQLite there is one writer: every lease is granted")
    now = [100.0]
    holder = storage.burst_leases.BurstLeases(runtime.engine)
    other = storage.burst_leases.BurstLeases(runtime.engine, clock=lambda: now[0])
    asked = []

    def seen(conn, cursor, statement, *args):
        asked.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", seen)
    try:
        assert holder.hold(1)
        assert not other.hold(1)
        asks = len(asked)
        now[0] += storage.burst_leases.RETRY_LEASE / 2
        assert not other.hold(1) and len(asked) == asks  # not asked again yet
        holder.keep_only(set())  # the holder lets go
        assert not other.hold(1)  # still within the moment
        now[0] += storage.burst_leases.RETRY_LEASE
        assert other.hold(1) and other.held == {1}
    finally:
        event.remove(runtime.engine, "before_cursor_execute", seen)
        holder.close()
        other.close()


def test_acknowledgements_from_many_threads_are_each_committed_before_they_are_answered(make_runtime, monkeypatch):
    """Eight webhook threads store 320 deliveries, each twice over (a provider's retry):
    every call returns only once its row is visible to another connection, exactly one of
    each pair says it is new, and on SQLite the rows were committed in groups (one writer,
    one commit for several webhooks)."""
    from sqlalchemy import create_engine, func

    rt = make_runtime(handle=False)
    engine = rt.ack_engine
    groups = []
    if engine.dialect.name == "sqlite":
        write = storage.acknowledgements._GroupCommit._write
        monkeypatch.setattr(storage.acknowledgements._GroupCommit, "_write",
                            lambda self, group: (groups.append(len(group)), write(self, group))[1])
    check = create_engine(engine.url, connect_args=engine.dialect.create_connect_args(engine.url)[1])
    answers, lock = [], threading.Lock()

    def webhook(n):
        for i in range(40):
            uid = f"t{(n * 40 + i) % 160}"  # threads n and n + 4 deliver the same 160 updates
            new = storage.acknowledgements.store(engine, 1, "webchat", uid, Inbound("webchat", f"c{i}", uid, text="halo"),
                                        rt.clock())
            with check.connect() as c:  # committed: another connection sees it at once
                seen = c.scalar(select(func.count()).select_from(InboundMessage)
                                .where(InboundMessage.provider_message_id == uid))
            with lock:
                answers.append((uid, new, seen))

    threads = [threading.Thread(target=webhook, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check.dispose()
    assert len(answers) == 320 and all(seen == 1 for _, _, seen in answers)
    assert sorted(uid for uid, new, _ in answers if new) == sorted({uid for uid, _, _ in answers})
    if engine.dialect.name == "sqlite":
        assert sum(groups) == 320 and max(groups) > 1


def test_a_group_says_which_of_its_rows_are_new(make_runtime):
    """A group is one statement: a row whose delivery was stored before, or comes twice in
    the group, is answered as a repeat; the others as new, each stored once."""
    rt = make_runtime(handle=False)
    if rt.ack_engine.dialect.name != "sqlite":
        pytest.skip("the group commit is SQLite's")
    ack = storage.acknowledgements._acknowledgement(rt.ack_engine)
    now = rt.clock()

    def group(*uids):
        return [storage.acknowledgements._Waiting((1, "webchat", uid, "c", {"pending": {}}, now, None, 0))
                for uid in uids]

    first = group("g1", "g2")
    ack.group._write(first)
    assert [w.stored for w in first] == [True, True]
    second = group("g3", "g1", "g4", "g3", "g5")
    ack.group._write(second)
    assert [w.stored for w in second] == [True, False, True, False, True]
    again = group("g2", "g5")
    ack.group._write(again)
    assert [w.stored for w in again] == [False, False]
    with rt.sessions() as s:
        assert sorted(s.scalars(select(InboundMessage.provider_message_id)).all()) == ["g1", "g2", "g3", "g4", "g5"]


def test_a_group_with_a_bad_row_fails_that_row_only(make_runtime):
    """The writer inserts a group in one transaction; when one row fails (here a row with
    no provider id), the group is written again row by row: the others are stored and
    answered as new, the bad one's webhook gets the database's error (a 5xx)."""
    from sqlalchemy.exc import IntegrityError

    rt = make_runtime(handle=False)
    if rt.ack_engine.dialect.name != "sqlite":
        pytest.skip("the group commit is SQLite's")
    ack = storage.acknowledgements._acknowledgement(rt.ack_engine)
    now = rt.clock()
    group = [storage.acknowledgements._Waiting((1, "webchat", uid, "c", {"pending": {}}, now, None, 0))
             for uid in ("b1", None, "b2")]
    ack.group._write(group)
    assert [w.stored for w in group] == [True, False, True]
    assert group[0].error is None and group[2].error is None and isinstance(group[1].error, IntegrityError)
    with rt.sessions() as s:
        assert sorted(s.scalars(select(InboundMessage.provider_message_id)).all()) == ["b1", "b2"]



def test_while_other_offices_have_work_one_worker_at_a_time_works_a_burst(make_runtime, monkeypatch):
    """An office in a burst is worked by the worker holding its lease; another worker,
    left free, takes the other offices' messages; once no other office has had work for
    a while it helps with the burst, and the lease passes on when its holder stops."""
    import uuid

    import bot.inbound
    from storage.offices import add_office
    from storage.scoping import office_of

    first, second = make_runtime(handle=False), make_runtime(handle=False)
    if first.engine.dialect.name != "postgresql":
        pytest.skip("on SQLite there is one writer: nothing to share")
    salt = uuid.uuid4().hex  # advisory locks are the database's, across the test workers' schemas
    burst_key = storage.burst_leases.burst_key
    monkeypatch.setattr(storage.burst_leases, "burst_key", lambda office: burst_key(office) ^ hash(salt) % 2**40)
    with first.transaction() as s:
        quiet = add_office(s, "sepi", {"office": {"name": "Kantor Sepi"}}).id
    n = iter(range(10_000))

    def store(office, chat):
        stored(first, office, chat, f"l{next(n)}")

    for k in range(200):  # more than a round's head (80), after all the rounds below too: a burst
        store(1, f"burst-{salt}-{k}")
    store(quiet, f"q-{salt}-1")
    handled = []
    handle = bot.inbound.handle

    arriving = []  # bursts' messages to store while a message is handled (arrivals mid-round)

    def recorded(s, conversation, officers, row, now, **kw):
        handled.append((s.get_bind(), office_of(s)))
        while arriving:
            store(1, arriving.pop())
        return handle(s, conversation, officers, row, now, **kw)

    monkeypatch.setattr(bot.inbound, "handle", recorded)
    assert first.inbound.run_once() > 0
    assert (first.engine, 1) in handled and (first.engine, quiet) in handled  # the lease's holder
    handled.clear()
    for k in range(4):  # batches of two
        store(quiet, f"q-{salt}-2{k}")
    arriving.append(f"burst-{salt}-late")  # and the burst goes on meanwhile
    assert second.inbound.run_once() == 4
    assert handled == [(second.engine, quiet)] * 4  # the burst left to its holder, its new message too
    handled.clear()
    monkeypatch.setattr(bot.inbound, "OTHERS_FOR", 0.0)  # no other office has work now
    assert second.inbound.run_once() > 0
    assert {office for _, office in handled} == {1}  # it helps
    monkeypatch.setattr(bot.inbound, "OTHERS_FOR", 2.0)
    store(quiet, f"q-{salt}-3")
    monkeypatch.setattr(bot.inbound, "STUCK_FOR", 0.0)  # the holder has not moved the burst for long
    handled.clear()
    assert second.inbound.run_once() > 1
    assert (second.engine, 1) in handled and 1 not in second.inbound._leases.held  # it helps all the same
    monkeypatch.setattr(bot.inbound, "STUCK_FOR", 10.0)
    store(quiet, f"q-{salt}-4")
    first.inbound.stop()  # its leases go with it
    handled.clear()
    assert second.inbound.run_once() > 1
    assert (second.engine, 1) in handled  # the lease is the second's now
    assert second.inbound._leases.held == {1}


def test_what_the_context_read_made_loads_its_relationships_in_its_office(make_runtime):
    """The chat's officer identity comes from the context read (a Core statement, its rows
    made into objects by hand); what is then loaded from it lazily (the officer's unit,
    the officer's identities) is still filtered by the office, as for a queried object."""
    from sqlalchemy import event

    from storage import chat_context
    from storage.models import Officer, OfficerIdentity, Unit

    rt = make_runtime(handle=False)
    with rt.transaction() as s:
        unit = Unit(code="LZ", name="Lazy")
        s.add(unit)
        s.flush()
        officer = Officer(name="Petugas", role="admin", unit_id=unit.id)
        s.add(officer)
        s.flush()
        s.add(OfficerIdentity(officer_id=officer.id, channel="webchat", external_id="w-lazy"))
    rt.receive("webchat", "lazy:1", Inbound("webchat", "w-lazy", "lazy:1", text="/status"), {})
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with rt.office(1).transaction() as s:
        assert storage.inbound.next_of_chat(s, "webchat", "w-lazy") is not None
        read, identity = chat_context.take(s, "officer_identity", "webchat", "w-lazy")
        assert read and identity is not None
        event.listen(rt.engine, "before_cursor_execute", seen)
        try:
            assert identity.officer.unit.code == "LZ" and len(identity.officer.identities) == 1
        finally:
            event.remove(rt.engine, "before_cursor_execute", seen)
    loads = [q for q in statements if "FROM units" in q or "FROM officer_identities" in q]
    assert len(loads) == 2 and all("office_id = " in q for q in loads), loads


def test_an_office_with_a_batch_s_worth_waiting_is_in_a_burst(make_runtime):
    """A burst is an office with a full batch of messages waiting (eight), not only one
    with a backlog as long as a round's head: a flood the workers nearly keep up with is
    one too, so one worker works it while another stays free."""
    from storage.offices import add_office

    runtime = make_runtime(handle=False)
    with runtime.transaction() as s:
        quiet = add_office(s, "sepi", {"office": {"name": "Kantor Sepi"}}).id
    for k in range(8):  # a batch's worth (bot.inbound's default batch), far below a round's head of 80
        stored(runtime, 1, f"busy-{k}", f"b{k}")
    for k in range(7):
        stored(runtime, quiet, f"quiet-{k}", f"q{k}")
    bursts: dict = {}
    with runtime.sessions() as s:
        storage.inbound.pending_chats(s, limit=20, bursts=bursts)
    first = rows(runtime, office_id=1)[0].id
    assert bursts == {1: first}


def test_a_round_s_plan_is_one_statement_however_many_offices_have_work(make_runtime):
    """PostgreSQL: every office's head and the newest id come in one statement, outside any
    transaction (one round trip: with one an office, a flood that keeps both cores busy
    made the quiet offices wait for each); the plan is fair across offices all the same."""
    from sqlalchemy import event
    from storage.offices import add_office

    runtime = make_runtime(handle=False)
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite is read in the process: no round trips to save")
    with runtime.transaction() as s:
        others = [add_office(s, f"k{n}", {"office": {"name": f"Kantor {n}"}}).id for n in range(9)]
    for k in range(30):
        stored(runtime, 1, f"busy-{k}", f"b{k}")
    for office in others:
        stored(runtime, office, f"warga-{office}", f"w{office}")
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    bursts: dict = {}
    event.listen(runtime.ack_engine, "before_cursor_execute", seen)
    try:
        with runtime.ack_engine.connect() as conn:
            newest, plan = storage.inbound.plan_round(conn, 20, bursts)
            assert conn.connection.dbapi_connection.autocommit  # no BEGIN, no ROLLBACK
    finally:
        event.remove(runtime.ack_engine, "before_cursor_execute", seen)
    assert len(statements) == 1, statements
    assert newest == max(row.id for row in rows(runtime))
    assert [office for office, _, _ in plan[:10]] == [1, *others]  # every office's first before any second
    assert bursts == {1: rows(runtime, office_id=1)[0].id}
    # The same heads as read office by office, also for an office whose head is one chat's
    # backlog (its chats then read whole), and nothing (newest 0) once all is handled.
    for k in range(100):
        stored(runtime, others[0], "cerewet", f"c{k}")
    stored(runtime, others[0], "pendiam", "p0")
    with runtime.ack_engine.connect() as conn:
        at_once = storage.inbound.heads_at_once(conn, 80)
        assert at_once == storage.inbound.heads_office_by_office(conn, 80)
        assert at_once[0] == max(row.id for row in rows(runtime)) and len(at_once[1]) == 10
        assert ((others[0], "webchat", "pendiam") in storage.inbound.plan_round(conn, 20)[1])
    with runtime.transaction() as s:
        s.execute(sqlalchemy.update(InboundMessage).values(handled_at=runtime.clock()))
    with runtime.ack_engine.connect() as conn:
        assert storage.inbound.heads_at_once(conn, 80) == storage.inbound.heads_office_by_office(conn, 80) == (0, {})
