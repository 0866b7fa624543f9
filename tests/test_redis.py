"""Redis helpers on in-process fakeredis and, when configured, a real Redis server."""
import time

import pytest

from storage.redis_store import MEMORY_URL, Busy, LeaderLock, chat_lock, connect
from tests.conftest import overlaps_under


def test_memory_url_is_one_shared_in_process_server():
    a, b = connect(MEMORY_URL), connect(MEMORY_URL)
    a.set("aduan-test:shared", "1")
    assert b.get("aduan-test:shared") == "1"
    a.delete("aduan-test:shared")


def test_chat_lock_serializes_one_conversation(redis_client, redis_prefix):
    assert overlaps_under(lambda: chat_lock(redis_client, "telegram", "123", prefix=redis_prefix, wait=10)) == []


def test_chat_lock_gives_up_with_busy(redis_client, redis_prefix):
    with chat_lock(redis_client, "whatsapp", "+62811", prefix=redis_prefix):
        with pytest.raises(Busy):
            with chat_lock(redis_client, "whatsapp", "+62811", prefix=redis_prefix, wait=0.1):
                pass
        # another conversation is not held up
        with chat_lock(redis_client, "whatsapp", "+62812", prefix=redis_prefix, wait=0.1):
            pass


def test_leader_lock_has_one_holder(redis_client, redis_prefix):
    first = LeaderLock(redis_client, "scheduler", ttl=5, prefix=redis_prefix)
    second = LeaderLock(redis_client, "scheduler", ttl=5, prefix=redis_prefix)
    assert first.acquire() and not second.acquire()
    assert first.renew() and not second.renew()
    first.release()
    assert second.acquire()
    second.release()


def test_leader_lock_expires_when_its_holder_dies(redis_client, redis_prefix):
    dead = LeaderLock(redis_client, "scheduler", ttl=0.2, prefix=redis_prefix)
    assert dead.acquire()
    time.sleep(0.35)
    heir = LeaderLock(redis_client, "scheduler", ttl=5, prefix=redis_prefix)
    assert heir.acquire() and not dead.renew()
    heir.release()


def test_rate_limiter_one_per_chat_interval_and_a_global_cap(redis_client, redis_prefix):
    from storage.redis_store import RateLimiter

    limiter = RateLimiter(redis_client, prefix=redis_prefix)
    assert limiter.wait_time("telegram", "1", 1.0, 1000) == 0
    wait = limiter.wait_time("telegram", "1", 1.0, 1000)
    assert 0.5 < wait <= 1.0  # the same chat waits about a second
    assert limiter.wait_time("telegram", "2", 1.0, 1000) == 0  # another chat does not
    time.sleep(max(0.0, 1.0 - (time.time() % 1.0)) + 0.01)  # start of a fresh second
    results = [limiter.wait_time("whatsapp", f"c{n}", 0.0, 5) for n in range(7)]
    assert results[:5] == [0, 0, 0, 0, 0] and all(0 < w <= 1 for w in results[5:])
