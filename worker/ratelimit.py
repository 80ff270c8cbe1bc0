"""One API rate budget in Redis, shared by every process that calls CertCentral.

DigiCert counts the requests of an API key in two *rolling* windows at once,
100 per 5 seconds and 1000 per 3 minutes (API.md, "Rate limits"). Fixed
windows let up to twice a limit through across a boundary, so the budget is a
sliding-window log: one sorted set of grant times (Redis server time, in
microseconds), and one Lua script that, in a single step, drops entries older
than the longest window, counts the entries inside every window, and either
records the call or answers how long to wait until every window has room.

The script reads the clock with Redis ``TIME``, so processes on machines whose
clocks disagree still share one timeline. fakeredis runs the same script
(through lupa) and answers ``TIME`` from the clock of the process that holds
it, which in the embedded mode is the only process: no fallback is needed.

``headroom`` is the share of each limit the budget uses: all of it by
default. DigiCert counts requests when they arrive, by its own clock, so
network delay can bunch calls we spaced out; the runtime lengthens every
window by ``[rate_limit] latency_allowance_seconds`` for that. Other clients
of the same API key (an operator's script, another integration) spend the
same budget without asking ours: ``[rate_limit] reserve_fraction`` leaves
them a share. A 429 stops *every* request of the key until the window frees
up, so with a shared key a margin is cheaper than one hit.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis
import structlog

from certrenew.errors import TransientError

log = structlog.get_logger(__name__)

# DigiCert's limits per API key (API.md): (requests, seconds).
DEFAULT_WINDOWS: tuple[tuple[int, float], ...] = ((100, 5.0), (1000, 180.0))
DEFAULT_HEADROOM = 1.0

MICROSECONDS = 1_000_000

# Sleeping this much past the computed moment avoids waking a hair too early
# and paying a second script call for the same slot.
WAKE_MARGIN_SECONDS = 0.002

# KEYS[1]: the log. ARGV[1]: a token unique to this call; ARGV[2..]: pairs of
# (allowed calls, window in microseconds). Returns 0 when the call is granted
# and recorded, else the microseconds until every window has a free slot.
# Numbers go back to Redis through string.format: Lua's tostring keeps only
# 14 digits, too few for microseconds since 1970.
ACQUIRE_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local function num(value) return string.format('%.0f', value) end

local longest = 0
for i = 2, #ARGV, 2 do
  longest = math.max(longest, tonumber(ARGV[i + 1]))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. num(now - longest))

local wait = 0
for i = 2, #ARGV, 2 do
  local allowed = tonumber(ARGV[i])
  local window = tonumber(ARGV[i + 1])
  local used = redis.call('ZCOUNT', KEYS[1], num(now - window), '+inf')
  if used >= allowed then
    -- The window has room again once the entry at this rank leaves it.
    local blocking = redis.call('ZRANGEBYSCORE', KEYS[1], num(now - window),
      '+inf', 'WITHSCORES', 'LIMIT', used - allowed, 1)
    local frees_at = tonumber(blocking[2]) + window + 1
    wait = math.max(wait, frees_at - now)
  end
end
if wait > 0 then return wait end

redis.call('ZADD', KEYS[1], num(now), num(now) .. ':' .. ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(longest / 1000) + 1000)
return 0
"""

# KEYS[1]: the log. ARGV: window lengths in microseconds. Returns the calls
# inside each window now.
USAGE_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local used = {}
for i = 1, #ARGV do
  local since = string.format('%.0f', now - tonumber(ARGV[i]))
  used[i] = redis.call('ZCOUNT', KEYS[1], since, '+inf')
end
return used
"""


class RateBudgetTimeout(TransientError):
    """The budget had no room within the time the caller could wait."""


@dataclass(frozen=True)
class WindowUsage:
    """How much of one rolling window is spent right now."""

    window_seconds: float
    # DigiCert's limit, and what the budget allows of it after the headroom.
    limit: int
    allowed: int
    used: int

    @property
    def fraction(self) -> float:
        return self.used / self.allowed


class RateBudget:
    """Calls to one API key, kept under every rolling window at once."""

    def __init__(
        self,
        redis_client: redis.Redis,
        windows: Sequence[tuple[int, float]] = DEFAULT_WINDOWS,
        *,
        key: str = "certrenew:rate",
        headroom: float = DEFAULT_HEADROOM,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        _check_windows(windows, headroom)
        self._redis = redis_client
        self.key = key
        self.windows = tuple((int(limit), float(seconds)) for limit, seconds in windows)
        self.headroom = headroom
        self._clock = clock
        self._sleep = sleep
        self._acquire = redis_client.register_script(ACQUIRE_SCRIPT)
        self._usage = redis_client.register_script(USAGE_SCRIPT)
        self._window_args: list[int] = []
        for limit, seconds in self.windows:
            self._window_args += [
                self.allowed(limit),
                round(seconds * MICROSECONDS),
            ]

    def allowed(self, limit: int) -> int:
        """What the budget lets through of a limit: the headroom, at least one."""
        return max(1, math.floor(limit * self.headroom))

    def try_acquire(self) -> float:
        """Take one call from the budget: 0.0 when granted, else seconds to wait."""
        token = secrets.token_hex(8)
        wait_us = int(self._acquire(keys=[self.key], args=[token, *self._window_args]))
        return wait_us / MICROSECONDS

    def acquire(self, *, max_wait_seconds: float) -> float:
        """Wait for room and take one call; returns the seconds waited.

        Sleeps exactly as long as the script says (plus a hair), never polls.
        Raises RateBudgetTimeout, whose ``retry_after_seconds`` says when the
        budget expects room, when the wait would pass ``max_wait_seconds``:
        the caller can then defer its message instead of holding a thread.
        """
        started = self._clock()
        slept = False
        while True:
            wait_seconds = self.try_acquire()
            waited = self._clock() - started
            if wait_seconds == 0.0:
                if slept:
                    log.debug("rate_budget_waited", waited_seconds=round(waited, 3))
                return waited
            if waited + wait_seconds > max_wait_seconds:
                raise RateBudgetTimeout(
                    f"rate budget {self.key}: no room for another call within "
                    f"{max_wait_seconds:g} s (next slot in {wait_seconds:.3f} s)",
                    retry_after_seconds=wait_seconds,
                )
            self._sleep(wait_seconds + WAKE_MARGIN_SECONDS)
            slept = True

    def usage(self) -> list[WindowUsage]:
        """Calls spent in each window now (for the status page and metrics)."""
        lengths_us = [round(seconds * MICROSECONDS) for _, seconds in self.windows]
        used = self._usage(keys=[self.key], args=lengths_us)
        return [
            WindowUsage(
                window_seconds=seconds,
                limit=limit,
                allowed=self.allowed(limit),
                used=int(count),
            )
            for (limit, seconds), count in zip(self.windows, used, strict=True)
        ]


def _check_windows(windows: Sequence[tuple[int, float]], headroom: float) -> None:
    if not windows:
        raise ValueError("rate budget: windows must name at least one window")
    for limit, seconds in windows:
        if int(limit) != limit or limit < 1:
            raise ValueError(
                f"rate budget: a window's limit must be a whole number of "
                f"requests of at least 1, got {limit!r}"
            )
        if not seconds > 0:
            raise ValueError(
                f"rate budget: a window's length must be positive seconds, "
                f"got {seconds!r}"
            )
    if not 0 < headroom <= 1:
        raise ValueError(
            f"rate budget: headroom must be above 0 and at most 1, got {headroom!r}"
        )
