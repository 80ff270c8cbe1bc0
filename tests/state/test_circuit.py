from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
import redis

from tests.support.redis_server import RedisServer
from worker.circuit import KeyRejection, Rejection

PAUSE = timedelta(minutes=5)


@pytest.fixture
def breaker(store: redis.Redis) -> KeyRejection:
    return KeyRejection(store)


def trip(breaker: KeyRejection, now: datetime) -> Rejection:
    return breaker.trip(
        code="access_denied|access_denied_invalid_key",
        message="Invalid API key.",
        pause_seconds=PAUSE.total_seconds(),
        now=now,
    )


def test_with_no_rejection_every_worker_may_call(
    breaker: KeyRejection, now: datetime
) -> None:
    assert breaker.current(now) is None
    assert all(breaker.may_call(now) for _ in range(5))


def test_a_rejected_key_stops_every_call_until_the_pause_is_over(
    breaker: KeyRejection, now: datetime
) -> None:
    rejection = trip(breaker, now)

    assert rejection == Rejection(
        code="access_denied|access_denied_invalid_key",
        message="Invalid API key.",
        since=now,
        retry_at=now + PAUSE,
        pause_seconds=300.0,
    )
    assert breaker.current(now + timedelta(minutes=1)) == rejection
    assert not any(
        breaker.may_call(now + timedelta(minutes=4, seconds=59)) for _ in range(5)
    )


def test_after_the_pause_exactly_one_worker_probes(
    breaker: KeyRejection, now: datetime
) -> None:
    trip(breaker, now)
    later = now + PAUSE

    answers = [breaker.may_call(later + timedelta(seconds=index)) for index in range(5)]

    assert answers == [True, False, False, False, False]


def test_a_successful_probe_lets_every_worker_call_again(
    breaker: KeyRejection, now: datetime
) -> None:
    trip(breaker, now)
    assert breaker.may_call(now + PAUSE)

    assert breaker.clear() is True

    assert breaker.current(now + PAUSE) is None
    assert all(breaker.may_call(now + PAUSE) for _ in range(3))
    assert breaker.clear() is False


def test_a_refused_probe_pauses_again_and_keeps_when_the_trouble_began(
    breaker: KeyRejection, now: datetime
) -> None:
    trip(breaker, now)
    probe_time = now + PAUSE
    assert breaker.may_call(probe_time)

    again = trip(breaker, probe_time)

    assert again.since == now
    assert again.retry_at == probe_time + PAUSE
    assert not breaker.may_call(probe_time + timedelta(minutes=1))
    assert breaker.may_call(probe_time + PAUSE)
    assert not breaker.may_call(probe_time + PAUSE)


def test_a_probe_that_never_reports_does_not_block_the_next_one_past_a_pause(
    breaker: KeyRejection, now: datetime
) -> None:
    breaker.trip(code="access_denied", message="denied", pause_seconds=0.2, now=now)
    probe_time = now + timedelta(seconds=1)
    assert breaker.may_call(probe_time)
    assert not breaker.may_call(probe_time)

    time.sleep(0.25)

    assert breaker.may_call(probe_time + timedelta(seconds=1))


def test_workers_racing_after_the_pause_on_a_real_redis_make_one_probe(
    redis_server: RedisServer, now: datetime
) -> None:
    redis_server.client().flushall()
    trip(KeyRejection(redis_server.client()), now)
    contenders = 12
    start = threading.Barrier(contenders)
    answers: list[bool] = []
    lock = threading.Lock()

    def contend() -> None:
        own = KeyRejection(redis_server.client())
        start.wait()
        answer = own.may_call(now + PAUSE)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=contend) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers.count(True) == 1


def test_a_pause_must_be_positive(breaker: KeyRejection, now: datetime) -> None:
    with pytest.raises(
        ValueError, match="key rejection: pause_seconds must be positive, got 0"
    ):
        breaker.trip(code="access_denied", message="denied", pause_seconds=0, now=now)


def test_a_naive_time_is_refused(breaker: KeyRejection, now: datetime) -> None:
    with pytest.raises(
        ValueError, match=r"key rejection: now must be timezone-aware \(UTC\)"
    ):
        breaker.may_call(now.replace(tzinfo=None))


class SteppedClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.seconds = 100.0

    def __call__(self) -> float:
        return self.seconds


def test_a_process_trusts_a_clear_breaker_for_its_bound_then_looks_again(
    store: redis.Redis, now: datetime
) -> None:
    clock = SteppedClock()
    cached = KeyRejection(store, known_clear_seconds=1.0, clock=clock)
    assert cached.may_call(now)

    trip(KeyRejection(store), now)  # another process
    clock.seconds += 0.9
    assert cached.may_call(now), "within the bound the look is trusted"
    assert not cached.clear(), "nor is Redis asked to lift a rejection"
    clock.seconds += 0.2
    assert not cached.may_call(now)
    assert store.exists(cached.key)


def test_a_trip_in_the_same_process_stops_its_calls_at_once(
    store: redis.Redis, now: datetime
) -> None:
    clock = SteppedClock()
    cached = KeyRejection(store, known_clear_seconds=60.0, clock=clock)
    assert cached.may_call(now)

    trip(cached, now)

    assert not cached.may_call(now)
    assert cached.may_call(now + PAUSE), "the probe"
    assert cached.clear()
    assert cached.may_call(now + PAUSE)
    assert cached.current(now + PAUSE) is None


def test_a_negative_bound_is_refused(store: redis.Redis) -> None:
    with pytest.raises(
        ValueError,
        match="key rejection: known_clear_seconds must not be negative, got -1",
    ):
        KeyRejection(store, known_clear_seconds=-1)
