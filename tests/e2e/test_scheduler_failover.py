"""Two `certrenew scheduler` processes: one leads, the other stands by and takes
over within one lease when the leader dies."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from sandbox import SandboxServer
from tests.support.deployment import deployed
from tests.support.processes import CertrenewProcess, wait_until
from tests.support.redis_server import RedisServer
from tests.support.seeding import seed_certificate
from worker.ledger import Ledger

pytestmark = pytest.mark.slow

LOCK_KEY = "certrenew:scheduler:leader"
LEASE_SECONDS = 2.0


def leader_pid(client: redis.Redis) -> int | None:
    holder = client.get(LOCK_KEY)
    if holder is None:
        return None
    text = holder.decode() if isinstance(holder, bytes) else str(holder)
    host, _, pid = text.rpartition(":")
    assert host == socket.gethostname()
    return int(pid)


@dataclass
class Pair:
    first: CertrenewProcess
    second: CertrenewProcess
    folder: Path
    sandbox: SandboxServer

    def leader_and_standby(
        self, client: redis.Redis
    ) -> tuple[CertrenewProcess, CertrenewProcess]:
        by_pid = {
            self.first.process.pid: self.first,
            self.second.process.pid: self.second,
        }
        wait_until(
            lambda: leader_pid(client) in by_pid,
            timeout_seconds=20,
            what="one of the two schedulers to take the lead",
        )
        leader = by_pid[leader_pid(client) or 0]
        return leader, self.second if leader is self.first else self.first


@pytest.fixture
def two_schedulers(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> Iterator[Pair]:
    with deployed(tmp_path, redis_server.url) as deployment:
        first = deployment.start("scheduler")
        second = deployment.start("scheduler")
        try:
            yield Pair(first, second, deployment.folder, deployment.sandbox)
        finally:
            first.kill()
            second.kill()


def test_one_scheduler_leads_and_the_standby_takes_over_within_one_lease(
    two_schedulers: Pair,
    redis_client: redis.Redis,
) -> None:
    leader, standby = two_schedulers.leader_and_standby(redis_client)
    time.sleep(LEASE_SECONDS)
    assert leader_pid(redis_client) == leader.process.pid, "the lead must not flap"

    leader.kill()
    killed_at = time.monotonic()
    wait_until(
        lambda: leader_pid(redis_client) == standby.process.pid,
        timeout_seconds=3 * LEASE_SECONDS,
        what="the standby to take over",
    )
    assert time.monotonic() - killed_at < LEASE_SECONDS + 1.5
    # The line follows the lock: the new leader writes it once it holds it.
    wait_until(
        lambda: "scheduler_leading" in standby.output(),
        timeout_seconds=2,
        what="the new leader to say it leads",
    )


def test_the_new_leader_scans_and_queues_what_came_due(
    two_schedulers: Pair,
    redis_client: redis.Redis,
) -> None:
    leader, standby = two_schedulers.leader_and_standby(redis_client)
    assert leader.terminate() == 0, leader.output()
    assert leader_pid(redis_client) in {None, standby.process.pid}

    now = datetime.now(UTC)
    thumbprint = seed_certificate(
        two_schedulers.sandbox,
        two_schedulers.folder,
        "late",
        common_name="late.example.com",
        validity=(now - timedelta(days=80), now + timedelta(days=10)),
    )
    ledger = Ledger(redis_client)
    wait_until(
        lambda: ledger.get(thumbprint) is not None,
        timeout_seconds=15,
        what="the new leader to claim the certificate that came due",
    )
    record = ledger.get(thumbprint)
    assert record is not None
    assert record.name == "late"
