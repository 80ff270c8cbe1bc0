from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

import pytest
import redis

from certrenew.config import RateLimitSettings, RedisSettings, Settings
from certrenew.errors import TransientError
from tests.state.rate_caller import KEY, WINDOWS, take_calls
from tests.support.redis_server import RedisServer
from worker.bootstrap import start_runtime
from worker.ratelimit import RateBudget, RateBudgetTimeout, WindowUsage

# Redis TIME has microsecond resolution; the wall clock around it is finer.
CLOCK_RESOLUTION_SECONDS = 1e-5


def crowded_interval(
    grants: Sequence[tuple[float, float]], limit: int, window_seconds: float
) -> tuple[float, float] | None:
    """An interval proven to hold more than `limit` grants within the window.

    Each grant happened somewhere between its (before, after) times. Any
    limit + 1 grants truly lie at least as far apart as the span from the
    earliest `before` to the latest `after`, so a span no longer than the
    window proves a breach, and a correct budget can never show one.
    """
    ordered = sorted(grants)
    for index, (first_before, first_after) in enumerate(ordered):
        later_afters = sorted(after for _, after in ordered[index + 1 :])
        if len(later_afters) < limit:
            break
        span_end = max(first_after, later_afters[limit - 1])
        if span_end - first_before < window_seconds - CLOCK_RESOLUTION_SECONDS:
            return first_before, span_end
    return None


def assert_within_every_window(grants: Sequence[tuple[float, float]]) -> None:
    for limit, seconds in WINDOWS:
        assert crowded_interval(grants, limit, seconds) is None, (limit, seconds)


def test_the_check_finds_eleven_grants_inside_half_a_second() -> None:
    # A fixed one-second counter lets 10 through at the end of one bucket
    # and 10 more at the start of the next.
    burst = [(0.90 + i * 0.001, 0.901 + i * 0.001) for i in range(10)]
    burst += [(1.0 + i * 0.001, 1.001 + i * 0.001) for i in range(10)]
    assert crowded_interval(burst, 10, 0.5) is not None
    spaced = [(i * 0.051, i * 0.051 + 0.001) for i in range(40)]
    assert crowded_interval(spaced, 10, 0.5) is None


def test_the_budget_grants_up_to_the_limit_and_then_says_how_long_to_wait(
    store: redis.Redis,
) -> None:
    budget = RateBudget(store, [(5, 30.0)], key=KEY, headroom=1.0)

    granted = [budget.try_acquire() for _ in range(5)]
    wait_seconds = budget.try_acquire()

    assert granted == [0.0] * 5
    assert 29.0 < wait_seconds <= 30.0
    assert budget.usage() == [
        WindowUsage(window_seconds=30.0, limit=5, allowed=5, used=5)
    ]


def test_the_headroom_keeps_each_window_under_its_limit(store: redis.Redis) -> None:
    budget = RateBudget(store, [(100, 60.0), (40, 30.0)], key=KEY, headroom=0.95)

    granted = 0
    while budget.try_acquire() == 0.0:
        granted += 1

    assert granted == 38
    usage = budget.usage()
    assert [(each.limit, each.allowed, each.used) for each in usage] == [
        (100, 95, 38),
        (40, 38, 38),
    ]
    assert usage[1].fraction == 1.0


def test_a_refused_call_is_not_counted(store: redis.Redis) -> None:
    budget = RateBudget(store, [(2, 30.0)], key=KEY, headroom=1.0)
    for _ in range(6):
        budget.try_acquire()
    assert budget.usage()[0].used == 2


def test_an_idle_budget_expires_from_redis(store: redis.Redis) -> None:
    budget = RateBudget(store, [(2, 3.0), (5, 10.0)], key=KEY)
    budget.try_acquire()
    ttl_ms = store.pttl(KEY)
    assert 10_000 < ttl_ms <= 11_000


def test_acquire_gives_up_past_its_longest_wait_and_says_when_to_come_back(
    store: redis.Redis,
) -> None:
    budget = RateBudget(store, [(2, 60.0)], key=KEY, headroom=1.0)
    budget.acquire(max_wait_seconds=0)
    budget.acquire(max_wait_seconds=0)

    with pytest.raises(RateBudgetTimeout) as timeout:
        budget.acquire(max_wait_seconds=0.1)

    assert isinstance(timeout.value, TransientError)
    assert re.fullmatch(
        rf"rate budget {KEY}: no room for another call within 0\.1 s "
        r"\(next slot in (59\.9\d\d|60\.000) s\)",
        str(timeout.value),
    )
    assert timeout.value.retry_after_seconds is not None
    assert 59.0 < timeout.value.retry_after_seconds <= 60.0


def test_acquire_sleeps_the_computed_time_instead_of_polling(
    redis_server: RedisServer,
) -> None:
    client = redis_server.client()
    client.flushall()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    budget = RateBudget(client, [(10, 0.3)], key=KEY, headroom=1.0, sleep=sleep)
    budget.try_acquire()
    client.config_resetstat()

    calls = 24
    waited = sum(budget.acquire(max_wait_seconds=5) for _ in range(calls))

    script_calls = sum(
        int(stats["calls"])
        for name, stats in client.info("commandstats").items()
        if name in ("cmdstat_evalsha", "cmdstat_eval")
    )
    assert script_calls == calls + len(sleeps)
    assert script_calls <= 2 * calls
    assert len(sleeps) >= 2
    assert waited >= 0.5


def test_threads_sharing_the_budget_never_exceed_any_rolling_window(
    store: redis.Redis,
) -> None:
    grants: list[tuple[float, float]] = []
    threads = [
        threading.Thread(
            target=take_calls,
            args=(RateBudget(store, WINDOWS, key=KEY, headroom=1.0), 8, grants),
        )
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(grants) == 40
    assert_within_every_window(grants)
    # 40 calls at 30 per 2 s cannot all fit in the first two seconds.
    assert max(after for _, after in grants) - min(before for before, _ in grants) > 2.0


def test_two_processes_sharing_the_budget_never_exceed_any_rolling_window(
    redis_server: RedisServer,
) -> None:
    redis_server.client().flushall()
    start_at = time.time() + 1.0
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.state.rate_caller",
                redis_server.url,
                str(start_at),
                "3",
                "7",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    grants: list[tuple[float, float]] = []
    for process in processes:
        stdout, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        grants += [(before, after) for before, after in json.loads(stdout)]

    assert len(grants) == 42
    assert_within_every_window(grants)


@pytest.mark.parametrize(
    ("windows", "headroom", "message"),
    [
        ([], 0.95, "rate budget: windows must name at least one window"),
        (
            [(0, 5.0)],
            0.95,
            "a window's limit must be a whole number of requests of at least 1, got 0",
        ),
        ([(10, 0.0)], 0.95, "a window's length must be positive seconds, got 0.0"),
        ([(10, 5.0)], 1.5, "headroom must be above 0 and at most 1, got 1.5"),
    ],
)
def test_a_budget_with_impossible_windows_is_refused(
    store: redis.Redis, windows: list[tuple[int, float]], headroom: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        RateBudget(store, windows, headroom=headroom)


@pytest.mark.parametrize(("reserve", "allowed"), [(0.0, [100, 1000]), (0.1, [90, 900])])
def test_the_runtime_budget_uses_the_whole_limit_less_the_reserve(
    redis_server: RedisServer, reserve: float, allowed: list[int]
) -> None:
    settings = Settings(
        redis=RedisSettings(url=redis_server.url),
        rate_limit=RateLimitSettings(reserve_fraction=reserve),
    )
    runtime = start_runtime(settings)
    try:
        usage = runtime.budget.usage()
    finally:
        runtime.close()

    assert [window.allowed for window in usage] == allowed
    # Each window is kept longer than DigiCert's by the latency allowance.
    assert [window.window_seconds for window in usage] == [5.25, 180.25]
