"""One conversation's messages never race: the lock is taken inside the message's own
transaction (PostgreSQL: an advisory lock; SQLite: the write lock), so it needs no Redis
and nothing can hold it after the transaction is gone."""
import threading
from contextlib import contextmanager

import pytest

from storage.db import lock_conversation, transaction
from tests.conftest import overlaps_under


def test_one_conversation_is_handled_one_message_at_a_time(sessions):
    @contextmanager
    def message():
        with transaction(sessions) as s:
            lock_conversation(s, "telegram", "123")
            yield

    assert overlaps_under(message) == []


def test_the_lock_goes_with_the_transaction_even_when_it_fails(sessions):
    try:
        with transaction(sessions) as s:
            lock_conversation(s, "telegram", "123")
            raise RuntimeError("the handler failed")
    except RuntimeError:
        pass
    done = threading.Event()

    def next_message():
        with transaction(sessions) as s:
            lock_conversation(s, "telegram", "123")
        done.set()

    threading.Thread(target=next_message).start()
    assert done.wait(5)  # not held by the rolled-back transaction


def test_on_postgresql_other_conversations_do_not_wait(sessions, engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: every conversation waits its turn there")
    holding, release, other_done = threading.Event(), threading.Event(), threading.Event()

    def slow():
        with transaction(sessions) as s:
            lock_conversation(s, "telegram", "1")
            holding.set()
            release.wait(5)

    def other():
        with transaction(sessions) as s:
            lock_conversation(s, "telegram", "2")
        other_done.set()

    t = threading.Thread(target=slow)
    t.start()
    assert holding.wait(5)
    threading.Thread(target=other).start()
    assert other_done.wait(5)  # chat 2 went while chat 1 was still held
    release.set()
    t.join()
