"""The proof (issue 5): renewals through a bad day, with real processes.

A real Redis (append-only file on, as production runs it), the sandbox over
HTTP injecting 5xx answers, dropped connections after an order was created, a
429 storm and latency, changed while the run goes on; one scheduler and
several `certrenew worker` processes. Workers are killed with SIGKILL twice
and replaced; Redis is stopped and started again on the same port.

At the end every renewal is either installed with a matching key or failed
with a reason in the ledger, the sandbox holds exactly one order per renewal,
no pending key was lost and no message is left in a queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from sandbox import FaultSettings, SandboxServer
from tests.e2e.test_pipeline import DUE
from tests.support.checks import (
    DELAYED_QUEUE_KEY,
    QUEUE_KEY,
    assert_installed_with_matching_key,
    orders_per_renewed_thumbprint,
    sandbox_requests,
    set_faults,
)
from tests.support.config import write_config
from tests.support.processes import CertrenewProcess, wait_until
from tests.support.redis_server import RedisServer
from tests.support.sandbox import TEST_API_KEY, running_sandbox
from tests.support.seeding import seed_certificates
from worker.ledger import Ledger, RenewalRecord

pytestmark = pytest.mark.slow

CERTIFICATES = 160
WORKERS = 3
REDIS_DOWN_SECONDS = 3.0
OPENING_FAULTS = FaultSettings(
    latency_ms=40, error_rate=0.15, drop_after_create_rate=0.25
)
# States in which an order may exist at DigiCert: its pending key must stay.
MAY_HAVE_ORDERED = ("submitting", "submitted", "issued")


class Run:
    """The processes of one chaos run and the views the test polls."""

    def __init__(self, config: Path, logs: Path, redis_server: RedisServer) -> None:
        self.config = config
        self.logs = logs
        self.redis_server = redis_server
        self.client = redis_server.client()
        self.ledger = Ledger(self.client)
        self.scheduler = self.start("scheduler")
        self.workers = [self.start("worker") for _ in range(WORKERS)]
        self.killed: list[CertrenewProcess] = []

    def start(self, command: str) -> CertrenewProcess:
        return CertrenewProcess(command, self.config, self.logs, api_key=TEST_API_KEY)

    def kill_a_worker(self) -> None:
        """SIGKILL the oldest worker and start a new one in its place."""
        victim = self.workers.pop(0)
        victim.kill()
        self.killed.append(victim)
        self.workers.append(self.start("worker"))

    def installed(self) -> int:
        try:
            return len(self.ledger.by_state("installed"))
        except redis.ConnectionError:
            return 0

    def finished(self) -> int:
        try:
            counts = self.ledger.counts()
        except redis.ConnectionError:
            return 0
        return counts["installed"] + counts["failed"]

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        """Wait, or fail naming the renewals still in flight and their states."""
        try:
            wait_until(condition, timeout_seconds=180, what=what)
        except AssertionError as error:
            stuck = [(r.name, r.state, r.order_status) for r in self.ledger.in_flight()]
            raise AssertionError(f"{error}; in flight: {stuck}") from None

    def stop(self) -> list[str]:
        """Stop every process; the output of any that did not exit cleanly."""
        unclean = []
        for process in [self.scheduler, *self.workers]:
            if process.terminate() != 0:
                unclean.append(process.output())
        for process in self.killed:
            process.kill()
        self.client.close()
        return unclean


@pytest.fixture
def restartable_redis() -> Iterator[RedisServer]:
    server = RedisServer(appendonly=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def faulty_sandbox() -> Iterator[SandboxServer]:
    with running_sandbox(faults=OPENING_FAULTS) as server:
        yield server


def test_renewals_survive_faults_killed_workers_and_a_redis_restart(
    tmp_path: Path, restartable_redis: RedisServer, faulty_sandbox: SandboxServer
) -> None:
    sandbox = faulty_sandbox
    folder = tmp_path / "inventory"
    folder.mkdir()
    config = tmp_path / "certrenew.toml"
    write_config(
        config,
        redis_url=restartable_redis.url,
        base_url=sandbox.base_url,
        folder=folder,
        redelivery_after_seconds=2,
    )
    names = [f"chaos{i:03d}" for i in range(CERTIFICATES)]
    old = seed_certificates(sandbox, folder, names, validity=DUE)

    run = Run(config, tmp_path, restartable_redis)
    try:
        run.wait_for(lambda: run.installed() >= CERTIFICATES // 10, "first installs")
        run.kill_a_worker()
        set_faults(sandbox, storm_429_requests=60)

        run.wait_for(lambda: run.installed() >= CERTIFICATES // 3, "a third installed")
        assert run.finished() < CERTIFICATES, "Redis must go away mid-run"
        restartable_redis.stop()
        time.sleep(REDIS_DOWN_SECONDS)
        restartable_redis.start()
        set_faults(sandbox, error_rate=0.25, latency_ms=120)

        run.wait_for(lambda: run.installed() >= CERTIFICATES // 2, "half installed")
        assert run.finished() < CERTIFICATES, "the second kill must come mid-run"
        run.kill_a_worker()
        set_faults(sandbox, error_rate=0.1, drop_after_create_rate=0.1, latency_ms=20)

        run.wait_for(lambda: run.finished() == CERTIFICATES, "every renewal final")
        wait_until(
            lambda: (
                run.client.llen(QUEUE_KEY) == 0
                and run.client.llen(DELAYED_QUEUE_KEY) == 0
            ),
            timeout_seconds=30,
            what="the queues to drain",
        )
    finally:
        unclean = run.stop()
    assert unclean == []

    records = {record.name: record for record in finished_records(restartable_redis)}
    assert sorted(records) == sorted(names)
    orders = orders_per_renewed_thumbprint(sandbox)
    for name, record in records.items():
        if record.state == "installed":
            assert_installed_with_matching_key(folder, name)
            assert orders[old[name]] == 1, f"{name}: {orders[old[name]]} orders"
        else:
            assert record.state == "failed"
            assert record.failure_code, record
            assert record.failure_message, record
            assert orders[old[name]] <= 1, f"{name}: {orders[old[name]]} orders"
            if record.failed_state in MAY_HAVE_ORDERED:
                assert (folder / f"{name}.key.pending").exists(), record
    # Every fault injected here is transient: none may end a renewal.
    assert [r for r in records.values() if r.state == "failed"] == []
    seen = sandbox_requests(sandbox)
    statuses = {row["status"] for row in seen["requests"]}
    assert seen["rate_limited"] > 0
    assert 503 in statuses


def finished_records(redis_server: RedisServer) -> list[RenewalRecord]:
    client = redis_server.client()
    ledger = Ledger(client)
    records = ledger.by_state("installed") + ledger.failed()
    assert ledger.in_flight() == []
    client.close()
    return records
