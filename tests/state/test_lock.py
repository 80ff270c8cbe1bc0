from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from scheduler.lock import LeaderElection, LeaderLock
from tests.support.redis_server import RedisServer

LOCK = "certrenew:test:leader"


def lock_for(
    store: redis.Redis, holder: str, lease_seconds: float = 30.0
) -> LeaderLock:
    return LeaderLock(store, name=LOCK, holder=holder, lease_seconds=lease_seconds)


def wait_until_expired(lock: LeaderLock) -> None:
    remaining = lock.remaining_seconds()
    if remaining is not None:
        time.sleep(remaining + 0.02)


# The lock


def test_a_free_lock_is_taken_with_a_lease(store: redis.Redis) -> None:
    first = lock_for(store, "scheduler-a", lease_seconds=30)

    assert first.acquire() is True

    assert first.holder_now() == "scheduler-a"
    remaining = first.remaining_seconds()
    assert remaining is not None
    assert 29 < remaining <= 30


def test_a_held_lock_is_refused_to_another_holder(store: redis.Redis) -> None:
    first, second = lock_for(store, "scheduler-a"), lock_for(store, "scheduler-b")
    first.acquire()

    assert second.acquire() is False
    assert second.renew() is False
    assert second.release() is False
    assert second.holder_now() == "scheduler-a"


def test_the_holder_renews_its_lease_and_taking_it_again_is_a_renewal(
    store: redis.Redis,
) -> None:
    first = lock_for(store, "scheduler-a", lease_seconds=30)
    first.acquire()
    store.pexpire(LOCK, 1000)

    assert first.renew() is True
    remaining = first.remaining_seconds()
    assert remaining is not None
    assert remaining > 29
    store.pexpire(LOCK, 1000)
    assert first.acquire() is True
    assert (first.remaining_seconds() or 0) > 29


def test_the_holder_releases_the_lock_and_then_holds_nothing(
    store: redis.Redis,
) -> None:
    first = lock_for(store, "scheduler-a")
    first.acquire()

    assert first.release() is True
    assert first.holder_now() is None
    assert first.remaining_seconds() is None
    assert first.release() is False
    assert first.renew() is False


def test_an_expired_lease_lets_another_holder_in_and_the_old_one_cannot_touch_it(
    store: redis.Redis,
) -> None:
    first = lock_for(store, "scheduler-a", lease_seconds=0.2)
    second = lock_for(store, "scheduler-b", lease_seconds=30)
    first.acquire()
    assert second.acquire() is False

    wait_until_expired(first)

    assert second.acquire() is True
    assert first.renew() is False
    assert first.release() is False
    assert first.holder_now() == "scheduler-b"


def test_a_lock_needs_a_holder_and_a_lease(store: redis.Redis) -> None:
    with pytest.raises(
        ValueError, match="leader lock: holder must be a non-empty name"
    ):
        LeaderLock(store, holder="", lease_seconds=10)
    with pytest.raises(
        ValueError, match=r"leader lock: lease_seconds must be at least 0\.01, got 0"
    ):
        LeaderLock(store, holder="a", lease_seconds=0)


# The election, in one process


def leading(election: LeaderElection) -> bool:
    """is_leader read through a call, which the type checker does not narrow."""
    return election.is_leader


class Events:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self._lock = threading.Lock()

    def note(self, event: str) -> None:
        with self._lock:
            self.seen.append(event)


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def elections() -> Iterator[list[LeaderElection]]:
    started: list[LeaderElection] = []
    yield started
    for election in started:
        election.stop()


def election_for(
    store: redis.Redis,
    holder: str,
    events: Events,
    started: list[LeaderElection],
    lease_seconds: float = 0.6,
) -> LeaderElection:
    election = LeaderElection(
        lock_for(store, holder, lease_seconds),
        on_elected=lambda: events.note(f"elected {holder}"),
        on_demoted=lambda: events.note(f"demoted {holder}"),
    )
    started.append(election)
    return election


def test_one_of_two_elections_leads_and_the_standby_takes_over_when_it_stops(
    store: redis.Redis, events: Events, elections: list[LeaderElection]
) -> None:
    first = election_for(store, "scheduler-a", events, elections)
    second = election_for(store, "scheduler-b", events, elections)
    first.start()
    assert first.wait_for_leadership(5)
    second.start()

    assert leading(first)
    assert not leading(second)
    assert first.lock.holder_now() == "scheduler-a"

    first.stop()

    assert not leading(first)
    assert second.wait_for_leadership(5)
    assert second.lock.holder_now() == "scheduler-b"
    assert events.seen == [
        "elected scheduler-a",
        "demoted scheduler-a",
        "elected scheduler-b",
    ]


def test_a_leader_that_finds_its_lock_taken_steps_down(
    store: redis.Redis, events: Events, elections: list[LeaderElection]
) -> None:
    leader = election_for(store, "scheduler-a", events, elections, lease_seconds=30)
    leader.step()
    assert leading(leader)
    store.set(LOCK, "scheduler-b")

    leader.step()

    assert not leading(leader)
    assert events.seen == ["elected scheduler-a", "demoted scheduler-a"]
    assert store.get(LOCK) == b"scheduler-b"


def test_a_standby_sleeps_no_longer_than_the_lease_it_waits_for(
    store: redis.Redis, events: Events, elections: list[LeaderElection]
) -> None:
    lock_for(store, "scheduler-a", lease_seconds=0.1).acquire()
    standby = election_for(store, "scheduler-b", events, elections, lease_seconds=30)

    delay_seconds = standby.step()

    assert delay_seconds < 0.2
    assert not leading(standby)


def test_a_leader_that_cannot_start_gives_the_lock_back(store: redis.Redis) -> None:
    def refuse() -> None:
        raise RuntimeError("scheduler jobs could not start")

    election = LeaderElection(lock_for(store, "scheduler-a"), on_elected=refuse)

    election.step()

    assert not leading(election)
    assert election.lock.holder_now() is None


# The election, across real processes


class LeaderProcess:
    """`tests.state.leader_process` as a child process, its lines in a queue."""

    def __init__(self, server: RedisServer, holder: str, lease_seconds: float) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.state.leader_process",
                server.url,
                holder,
                str(lease_seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def expect(self, line: str, timeout_seconds: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_seconds
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {line!r} within {timeout_seconds} s"
            if self.lines.get(timeout=remaining) == line:
                return

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def leader_processes() -> Iterator[list[LeaderProcess]]:
    started: list[LeaderProcess] = []
    yield started
    for process in started:
        process.stop()


def test_a_standby_process_takes_over_within_one_lease_when_the_leader_is_killed(
    redis_server: RedisServer, leader_processes: list[LeaderProcess]
) -> None:
    client = redis_server.client()
    client.flushall()
    lease_seconds = 1.5
    lock = LeaderLock(client, holder="observer", lease_seconds=lease_seconds)
    first = LeaderProcess(redis_server, "scheduler-a", lease_seconds)
    leader_processes.append(first)
    first.expect("elected")
    second = LeaderProcess(redis_server, "scheduler-b", lease_seconds)
    leader_processes.append(second)
    second.expect("started")
    # Two renewals of the leader later, the standby still waits.
    time.sleep(2 * lease_seconds / 3)
    assert lock.holder_now() == "scheduler-a"
    assert second.lines.empty()

    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    killed_at = time.monotonic()
    second.expect("elected", timeout_seconds=10)
    takeover_seconds = time.monotonic() - killed_at

    assert lock.holder_now() == "scheduler-b"
    # The key outlives the killed leader by at most one lease; the standby
    # wakes when it expires. The slack covers the child's pipe and scheduling.
    assert takeover_seconds <= lease_seconds + 0.3


def test_a_leader_process_stopped_with_sigterm_releases_the_lock_and_exits_0(
    redis_server: RedisServer, leader_processes: list[LeaderProcess]
) -> None:
    client = redis_server.client()
    client.flushall()
    leader = LeaderProcess(redis_server, "scheduler-a", 30.0)
    leader_processes.append(leader)
    leader.expect("elected")

    leader.process.send_signal(signal.SIGTERM)
    leader.expect("demoted")
    leader.expect("stopped")

    assert leader.process.wait(timeout=10) == 0
    assert client.get("certrenew:scheduler:leader") is None
