"""One worker at a time per renewal: the lease around every step."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack

import pytest
import redis

from worker.renewal_lock import KEY_PREFIX, RenewalBusy, RenewalLock

THUMBPRINT = "AB" * 20


def test_a_second_holder_is_told_to_come_back_after_the_lease(
    redis_client: redis.Redis,
) -> None:
    first = RenewalLock(redis_client, lease_seconds=5)
    second = RenewalLock(redis_client, lease_seconds=5)

    with first.held(THUMBPRINT), pytest.raises(RenewalBusy) as busy:
        second.held(THUMBPRINT).__enter__()

    assert busy.value.retry_after_seconds == 5
    assert "being worked on by another worker" in str(busy.value)
    with second.held(THUMBPRINT):
        assert redis_client.exists(KEY_PREFIX + THUMBPRINT)
    assert not redis_client.exists(KEY_PREFIX + THUMBPRINT)


def test_the_lease_is_extended_while_the_step_runs(redis_client: redis.Redis) -> None:
    lock = RenewalLock(redis_client, lease_seconds=0.3)

    with lock.held(THUMBPRINT):
        time.sleep(0.8)  # longer than the lease: only the keeper holds it
        other = RenewalLock(redis_client, lease_seconds=0.3)
        with pytest.raises(RenewalBusy):
            other.held(THUMBPRINT).__enter__()


def test_a_lock_left_by_a_killed_worker_lapses_after_its_lease(
    redis_client: redis.Redis,
) -> None:
    redis_client.set(KEY_PREFIX + THUMBPRINT, "dead-worker", px=200)
    lock = RenewalLock(redis_client, lease_seconds=5)

    with pytest.raises(RenewalBusy):
        lock.held(THUMBPRINT).__enter__()
    time.sleep(0.3)
    with lock.held(THUMBPRINT):
        assert redis_client.get(KEY_PREFIX + THUMBPRINT) != b"dead-worker"


def keeper_threads() -> set[threading.Thread]:
    return {
        thread
        for thread in threading.enumerate()
        if thread.name == "renewal-lock-keeper"
    }


def test_one_thread_extends_every_lock_a_process_holds(
    redis_client: redis.Redis,
) -> None:
    lock = RenewalLock(redis_client, lease_seconds=0.3)
    thumbprints = [f"{digit}" * 40 for digit in "ABC"]
    before = keeper_threads()

    with ExitStack() as stack:
        for thumbprint in thumbprints:
            stack.enter_context(lock.held(thumbprint))
        time.sleep(0.8)  # longer than the lease: only the keeper holds them
        assert len(keeper_threads() - before) == 1
        other = RenewalLock(redis_client, lease_seconds=0.3)
        for thumbprint in thumbprints:
            with pytest.raises(RenewalBusy):
                other.held(thumbprint).__enter__()

    assert not any(redis_client.exists(KEY_PREFIX + each) for each in thumbprints)
