"""Abuse limits on the web chat, through the real Flask app and the page's JSON calls: a
flood files no more complaints than the limits allow and starts no notice or clock
beyond them; notices of a burst are batched; spam is refused in bulk."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.app import create_app
from bot.cli import main
from storage.db import transaction
from storage.models import Case, CaseEvent, Deadline, InboundMessage, Outbox
from storage.officers import invite
from tests.chat import Chat
from tests.conftest import REDIS_BACKENDS, REDIS_URL, wib

NOW = wib(2025, 4, 8, 9, 0)
_ids = itertools.count(1)


@pytest.fixture
def runtime(make_runtime, redis_url_or_memory):
    return make_runtime(clock=lambda: NOW, redis={"url": redis_url_or_memory},
                        telegram={"officer_group_chat_id": -100123})


@pytest.fixture(params=REDIS_BACKENDS)
def redis_url_or_memory(request):
    """The limits on the in-process Redis and on the real one (when configured): a real
    server is where several web processes count against the same limits."""
    if request.param == "memory":
        yield "memory://"
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter("aduan:limit:*"):  # this Redis is the tests' own (db 15)
        client.delete(key)
    yield REDIS_URL
    for key in client.scan_iter("aduan:limit:*"):
        client.delete(key)


def browser(app, address):
    """A new browser (no cookie) at this client address."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def post(client, **body):
    return client.post("/webchat/api/messages", json={"id": f"flood-{next(_ids):06d}", **body})


def texts(client):
    return [m["text"] for m in client.get("/webchat/api/messages?after=0").get_json()["messages"]]


def file_one(client, first=False):
    """What a script does to file one complaint, as the page would post it."""
    if first:
        post(client, text="/mulai")
        post(client, button="agree")
    post(client, text="/batal")  # whatever the last attempt left
    post(client, button="file")
    for body in ({"text": "Budi"}, {"button": "skip"}, {"button": "skip"}):
        if first:
            post(client, **body)
    post(client, button="pengaduan")
    post(client, text="Antrian di loket sangat panjang dan tidak teratur sejak pagi.")
    post(client, button="next")
    post(client, button="biasa")
    return post(client, button="submit")


def counts(runtime):
    with runtime.sessions() as s:
        return (s.scalar(select(func.count()).select_from(Case)),
                s.scalar(select(func.count()).select_from(Deadline)),
                s.scalar(select(func.count()).select_from(Outbox).where(Outbox.purpose.in_(["officer", "group"]))))


def coordinator(runtime):
    with transaction(runtime.sessions) as s:
        _, code = invite(s, runtime.workflow, "admin", now=NOW)
    chat = Chat(runtime, channel="telegram", chat_id="5001")
    chat.say(f"/petugas {code}")
    return chat


def test_a_flood_from_one_browser_files_no_more_than_the_limit(runtime):
    coordinator(runtime)
    client = create_app(runtime=runtime).test_client()
    for n in range(100):
        assert file_one(client, first=n == 0).status_code == 200
    cases, clocks, notices = counts(runtime)
    assert cases == 3  # complaints_per_visitor_hour
    assert clocks == 3 * 2  # the stage clock and the escalation clock of each, none for the refused
    assert notices == 3 * 2  # the coordinator and the group, for each filed case only
    said = texts(client)
    assert sum(x.startswith("Terima kasih, pengaduan Anda sudah kami terima") for x in said) == 3
    assert any(x.startswith("Anda sudah mengirim pengaduan sebanyak yang boleh") for x in said)


def test_fresh_cookies_from_one_address_meet_the_address_limit(runtime):
    app = create_app(runtime=runtime)
    for n in range(14):
        file_one(browser(app, "203.0.113.7"), first=True)
    assert counts(runtime)[0] == 10  # complaints_per_ip_hour
    file_one(browser(app, "198.51.100.9"), first=True)
    assert counts(runtime)[0] == 11  # another address is not held back


def test_the_limits_are_the_offices_to_set(make_runtime):
    rt = make_runtime(clock=lambda: NOW, webchat={"complaints_per_visitor_hour": 1})
    client = create_app(runtime=rt).test_client()
    file_one(client, first=True)
    file_one(client)
    assert counts(rt)[0] == 1


def test_the_hour_passes(make_runtime):
    now = [NOW]
    rt = make_runtime(clock=lambda: now[0], webchat={"complaints_per_visitor_hour": 1})
    client = create_app(runtime=rt).test_client()
    file_one(client, first=True)
    assert file_one(client).status_code == 200  # refused: the form is kept
    assert counts(rt)[0] == 1
    assert "sekitar 60 menit lagi" in texts(client)[-2]
    now[0] = NOW + timedelta(minutes=61)
    post(client, button="submit")  # the kept form goes now
    assert counts(rt)[0] == 2


def test_messages_faster_than_the_limit_are_refused_before_anything_is_stored(make_runtime):
    rt = make_runtime(clock=lambda: NOW, webchat={"messages_per_second": 0.01, "message_burst": 5})
    client = create_app(runtime=rt).test_client()
    statuses = [post(client, text="halo").status_code for _ in range(12)]
    assert statuses == [200] * 5 + [429] * 7
    refused = post(client, text="halo")
    assert refused.get_json()["error"] == "Anda mengirim pesan terlalu cepat. Tunggu sebentar, lalu kirim lagi."
    assert int(refused.headers["Retry-After"]) >= 1
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 5
    other = create_app(runtime=rt).test_client()  # another visitor has a bucket of its own
    assert post(other, text="halo").status_code == 200


def test_a_burst_of_new_cases_reaches_coordinators_as_one_summary(make_runtime):
    rt = make_runtime(clock=lambda: NOW, telegram={"officer_group_chat_id": -100123})
    admin = coordinator(rt)
    for n in range(9):
        Chat(rt, chat_id=f"w-burst-{n}").file_complaint()
    notices = [p["text"] for p in admin.pop()]
    assert len(notices) == 6 and all(x.startswith("Pengaduan baru") for x in notices[:5])
    assert notices[5].startswith("6 pengaduan baru dalam satu menit terakhir")
    with rt.sessions() as s:
        group = s.scalars(select(Outbox.payload).where(Outbox.purpose == "group").order_by(Outbox.id)).all()
    assert len(group) == 6 and group[5]["text"].startswith("6 pengaduan baru")


def file_again(chat) -> str:
    """A returning citizen files one more (the form skips what it knows)."""
    chat.say("/batal")
    chat.choose("file")
    chat.choose("pengaduan")
    chat.say("Pengaduan yang sama lagi dan lagi, dikirim otomatis.")
    chat.choose("next")
    chat.choose("biasa")
    return chat.choose("submit")[0].split("nomor tiket ")[1].split(".")[0]


def test_spam_is_refused_in_bulk_notifying_no_one(make_runtime, tmp_path, database_url):
    rt = make_runtime(clock=lambda: NOW)
    spammer, person = Chat(rt, chat_id="w-" + "a" * 32), Chat(rt, chat_id="w-" + "b" * 32)
    spam = [spammer.file_complaint()] + [file_again(spammer) for _ in range(2)]
    real = person.file_complaint()
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n')
    with rt.sessions() as s:
        before = s.scalar(select(func.count()).select_from(Outbox))
    args = ["--config", str(config), "cases", "reject-bulk", "--channel", "webchat", "--since", "2025-04-08",
            "--visitor", "w-" + "a" * 32, "--reason", "Spam: pengaduan otomatis"]
    declined = CliRunner().invoke(main, args, input="n\n")
    assert declined.exit_code == 1 and all(t in declined.output for t in spam) and real not in declined.output
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.state == "rejected")) == 0
    done = CliRunner().invoke(main, args + ["--yes"])
    assert done.exit_code == 0, done.output
    with rt.sessions() as s:
        states = dict(s.execute(select(Case.ticket, Case.state)).all())
        events = s.scalars(select(CaseEvent).where(CaseEvent.action == "reject")).all()
        assert s.scalar(select(func.count()).select_from(Outbox)) == before  # nobody is told
        open_clocks = set(s.scalars(select(Case.ticket).join(Deadline, Deadline.case_id == Case.id)
                                    .where(Deadline.completed_at.is_(None))))
    assert [states[t] for t in spam] == ["rejected"] * 3 and states[real] == "received"
    assert {(e.actor_type, e.note) for e in events} == {("admin", "Spam: pengaduan otomatis")}
    assert open_clocks == {real}  # the spam's clocks stopped
    by_ticket = CliRunner().invoke(main, ["--config", str(config), "cases", "reject-bulk", real, spam[0],
                                          "--reason", "x", "--yes"])
    assert by_ticket.exit_code == 0 and "left alone" in by_ticket.output and spam[0] in by_ticket.output
