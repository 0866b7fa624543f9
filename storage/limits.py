"""Abuse limits, counted in Redis so that every web process counts against the same ones.

- `MessageRate`: a token bucket per sender (e.g. 2 messages a second, bursts of 5): a
  script posting as fast as it can is refused before anything is stored.
- `SubmissionQuota`: complaints filed per sender and per client address in any hour. It is
  taken where a complaint is submitted (handlers.citizen), in one atomic step for both
  counters, so two processes filing for the same address at once cannot both slip under.

Losing these counters (a restarted in-process Redis) only forgets recent counts: nothing
in them is needed to rebuild the database, which stays the source of truth.
"""
from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import redis

_BUCKET = """
local key, rate, burst, now = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.call('HMGET', key, 'tokens', 'at')
local tokens, at = tonumber(held[1]) or burst, tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""

# KEYS: the counters (sorted sets of submission times); ARGV: now, window, member, then one
# limit per key. All counters must have room, or none is counted: the wait until the
# fullest one frees a place is returned instead.
_QUOTA = """
local now, window, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local limit = tonumber(ARGV[3 + i])
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, -limit, -limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
end
return '0'
"""


def _hashed(value: str) -> str:
    """Client addresses are personal data: Redis keys carry a digest, never the address."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class MessageRate:
    def __init__(self, client: redis.Redis, per_second: float, burst: int, prefix: str = "aduan",
                 clock: Callable[[], float] = time.time):
        # A wall clock of its own: refilling needs time that runs, also where tests freeze
        # the office's clock at a date.
        self.client, self.per_second, self.burst, self.prefix, self.clock = client, per_second, burst, prefix, clock
        self._script = client.register_script(_BUCKET)

    def wait(self, channel: str, sender: str) -> float:
        """0 when the message may go in (and it is counted), else the seconds to wait."""
        key = f"{self.prefix}:limit:msg:{channel}:{_hashed(sender)}"
        return float(self._script(keys=[key], args=[self.per_second, self.burst, self.clock()]))


@dataclass(frozen=True)
class Refused:
    """A limit was hit: try again in `seconds`."""

    seconds: float

    @property
    def minutes(self) -> int:
        return max(1, int(self.seconds + 59) // 60)


class SubmissionQuota:
    """At most `per_sender` complaints per sender and `per_origin` per client address in
    any `window` seconds, on the `channels` it guards (others pass)."""

    def __init__(self, client: redis.Redis, channels: frozenset[str], per_sender: int, per_origin: int,
                 window: float = 3600.0, prefix: str = "aduan", clock: Callable[[], float] = time.time):
        self.client, self.channels, self.window, self.prefix, self.clock = client, channels, window, prefix, clock
        self.per_sender, self.per_origin = per_sender, per_origin
        self._script = client.register_script(_QUOTA)

    def take(self, channel: str, sender: str, origin: str | None) -> Refused | None:
        """Count one submission, or say how long until one is allowed (nothing counted)."""
        if channel not in self.channels:
            return None
        keys = [f"{self.prefix}:limit:filed:{channel}:sender:{_hashed(sender)}"]
        limits = [self.per_sender]
        if origin:
            keys.append(f"{self.prefix}:limit:filed:{channel}:origin:{_hashed(origin)}")
            limits.append(self.per_origin)
        now = self.clock()
        wait = float(self._script(keys=keys, args=[now, self.window, uuid.uuid4().hex, *limits]))
        return Refused(wait) if wait > 0 else None
