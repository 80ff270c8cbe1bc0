"""The baselines the benchmarks measure against are themselves right."""

from __future__ import annotations

import pytest

from bench.renewals import fastest_schedule, minimum_seconds
from sandbox.config import RateLimit
from sandbox.ratelimit import RateLimiter

LIMITS = ((2, 1.0), (4, 10.0))


def test_the_fastest_schedule_waits_on_every_window_at_once() -> None:
    # Two a second and four in ten: the long window frees its places at 10 s,
    # and the short one then lets only two through before 11 s. A bound per
    # window alone would say 10 s.
    assert fastest_schedule(8, LIMITS, 1.0) == [0, 0, 1, 1, 10, 10, 11, 11]
    assert minimum_seconds(8, LIMITS, 1.0) == 11


def test_the_time_scale_divides_the_windows() -> None:
    assert minimum_seconds(8, LIMITS, 2.0) == pytest.approx(5.5)


@pytest.mark.parametrize("calls", [1, 5, 37])
def test_the_sandbox_accepts_the_fastest_schedule_and_nothing_sooner(
    calls: int,
) -> None:
    limiter = RateLimiter(
        tuple(RateLimit(requests=r, window_seconds=w) for r, w in LIMITS), 1.0
    )
    schedule = fastest_schedule(calls, LIMITS, 1.0)
    *before_last, last = schedule

    for at in before_last:
        assert limiter.allow("key", at), f"refused at {at} s: {schedule}"
    if last > 0:
        assert not limiter.allow("key", last - 1e-6), "the last call could go sooner"
    assert limiter.allow("key", last)
