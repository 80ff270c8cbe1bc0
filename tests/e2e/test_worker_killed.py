"""A worker killed (SIGKILL) in the middle of renewals (issue 4, "Done when").

The sandbox answers slowly, so renewals sit between storing their key and
hearing DigiCert's answer when the worker dies. Dramatiq gives the dead
worker's unacknowledged messages back once its heartbeat is older than
``[worker] redelivery_after_seconds``; a new worker picks them up, and the
ledger plus the lookup by ``alternative_order_id`` keep it from ordering twice.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from tests.e2e.test_pipeline import DUE
from tests.support.checks import (
    assert_installed_with_matching_key,
    orders_per_renewed_thumbprint,
    set_faults,
)
from tests.support.deployment import deployed
from tests.support.processes import CertrenewProcess, wait_until
from tests.support.redis_server import RedisServer
from tests.support.seeding import seed_certificates
from worker.ledger import Ledger

pytestmark = pytest.mark.slow

CERTIFICATES = 10
# Every API call takes this long: a renewal (look up the order, post the new
# one) is in flight for a second or more, long enough to be killed in it.
LATENCY_MS = 700
REDELIVERY_AFTER_SECONDS = 2


def test_a_worker_killed_mid_renewal_leaves_one_order_each_and_no_key_lost(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    with deployed(
        tmp_path, redis_server.url, redelivery_after_seconds=REDELIVERY_AFTER_SECONDS
    ) as deployment:
        sandbox, folder = deployment.sandbox, deployment.folder
        names = [f"site{i}" for i in range(CERTIFICATES)]
        old = seed_certificates(sandbox, folder, names, validity=DUE)
        set_faults(sandbox, latency_ms=LATENCY_MS)
        ledger = Ledger(redis_client)

        scheduler = deployment.start("scheduler")
        first = deployment.start("worker")
        second: CertrenewProcess | None = None
        try:
            # Kill it while an order is on the wire: the ledger says
            # "submitting" from just before the POST until its answer.
            deadline = time.monotonic() + 60
            while not ledger.by_state("submitting") and time.monotonic() < deadline:
                time.sleep(0.01)
            first.kill()
            assert ledger.by_state("submitting"), first.output()
            assert len(ledger.by_state("installed")) < CERTIFICATES

            second = deployment.start("worker")
            wait_until(
                lambda: len(ledger.by_state("installed")) == CERTIFICATES,
                timeout_seconds=90,
                what="every renewal installed by the second worker",
            )
        finally:
            first.kill()
            assert scheduler.terminate() == 0, scheduler.output()
            if second is not None:
                assert second.terminate() == 0, second.output()

        assert ledger.failed() == []
        orders = orders_per_renewed_thumbprint(sandbox)
        assert [orders[thumbprint] for thumbprint in old.values()] == [1] * len(old)
        for name in old:
            assert_installed_with_matching_key(folder, name)
