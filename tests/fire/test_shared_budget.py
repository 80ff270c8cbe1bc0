"""Two worker processes share one rate budget: no 429 at DigiCert's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from sandbox import SandboxConfig
from tests.support.checks import orders_per_renewed_thumbprint, sandbox_requests
from tests.support.deployment import deployed
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer
from tests.support.sandbox import TEST_API_KEY
from tests.support.seeding import seed_certificates
from worker.ledger import Ledger

pytestmark = pytest.mark.slow

# DigiCert's limits (100 per 5 s, 1000 per 180 s) run five times faster here,
# at the sandbox and in certrenew's budget alike: 100 per second at most.
TIME_SCALE = 5
RENEWALS = 150


def test_two_workers_under_the_real_limits_never_see_a_429(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    now = datetime.now(UTC)
    config = SandboxConfig(api_keys=(TEST_API_KEY,), admin=True, time_scale=TIME_SCALE)
    with deployed(tmp_path, redis_server.url, sandbox_config=config) as deployment:
        sandbox = deployment.sandbox
        names = [f"host{number}" for number in range(RENEWALS)]
        old = seed_certificates(
            sandbox, deployment.folder, names,
            validity=(now - timedelta(days=80), now + timedelta(days=10)),
        )  # fmt: skip
        with deployment.config.open("a") as extra:
            extra.write(
                "\n[rate_limit]\nwindows = ["
                f"{{requests = 100, seconds = {5 / TIME_SCALE}}}, "
                f"{{requests = 1000, seconds = {180 / TIME_SCALE}}}]\n"
            )
        ledger = Ledger(redis_client)
        processes = [
            deployment.start(command) for command in ("scheduler", "worker", "worker")
        ]
        try:
            wait_until(
                lambda: len(ledger.by_state("installed")) == RENEWALS,
                timeout_seconds=120,
                what=f"all {RENEWALS} renewals to be installed",
            )
        finally:
            exit_codes = [process.terminate() for process in processes]

        requests = sandbox_requests(sandbox)
        orders = orders_per_renewed_thumbprint(sandbox)

    assert exit_codes == [0, 0, 0]
    assert requests["rate_limited"] == 0
    assert requests["total"] >= 2 * RENEWALS
    assert orders == dict.fromkeys(old.values(), 1)
