"""A rejected API key pauses every worker and burns no renewal (issue 5).

A real scheduler and worker use a key the sandbox does not know: the first 403
trips the breaker in Redis, later calls wait for the pause (one probe per
pause), and no renewal fails. Once the account knows the key, the next probe
succeeds, the breaker clears by itself and every renewal is installed.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httpx
import pytest
import redis

from tests.e2e.test_pipeline import DUE
from tests.support.deployment import deployed
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer
from tests.support.sandbox import TEST_API_KEY
from tests.support.seeding import seed_certificate
from worker.circuit import DEFAULT_KEY
from worker.ledger import Ledger

pytestmark = pytest.mark.slow

NEW_KEY = "rotated-key-not-yet-known"
PAUSE_SECONDS = 2


def forbidden_calls(admin_url: str) -> int:
    counts = httpx.get(f"{admin_url}/requests").json()["requests"]
    return sum(row["count"] for row in counts if row["status"] == 403)


def test_a_rejected_key_pauses_all_calls_fails_nothing_and_resumes_by_itself(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    with deployed(tmp_path, redis_server.url) as deployment:
        sandbox, config = deployment.sandbox, deployment.config
        config.write_text(
            config.read_text().replace(
                "[retry]\n", f"[retry]\nkey_rejected_pause_seconds = {PAUSE_SECONDS}\n"
            )
        )
        names = [f"site{i}" for i in range(6)]
        for name in names:
            seed_certificate(
                sandbox,
                deployment.folder,
                name,
                common_name=f"{name}.example.com",
                validity=DUE,
            )
        ledger = Ledger(redis_client)
        scheduler = deployment.start("scheduler", api_key=NEW_KEY)
        worker = deployment.start("worker", api_key=NEW_KEY)
        try:
            wait_until(lambda: redis_client.exists(DEFAULT_KEY), timeout_seconds=30,
                       what="the breaker to trip")  # fmt: skip
            refused_at_trip = forbidden_calls(sandbox.admin_url)
            wait_until(
                lambda: forbidden_calls(sandbox.admin_url) >= refused_at_trip + 2,
                timeout_seconds=30,
                what="two more probes",
            )
            assert ledger.failed() == []
            assert len(ledger.in_flight()) == len(names)

            sandbox.service.config = dataclasses.replace(
                sandbox.service.config, api_keys=(TEST_API_KEY, NEW_KEY)
            )
            wait_until(
                lambda: len(ledger.by_state("installed")) == len(names),
                timeout_seconds=60,
                what="every renewal installed once the key is known",
            )
        finally:
            assert scheduler.terminate() == 0, scheduler.output()
            assert worker.terminate() == 0, worker.output()

    assert not redis_client.exists(DEFAULT_KEY)
    assert ledger.failed() == []
    events = [json.loads(line) for line in worker.output().splitlines()
              if line.startswith("{")]  # fmt: skip
    rejected = [e for e in events if e.get("event") == "api_key_rejected"]
    assert rejected
    assert rejected[0]["code"] == "access_denied|access_denied_invalid_key"
    assert rejected[0]["level"] == "warning"
    assert NEW_KEY not in worker.output()
    assert any(e.get("event") == "api_key_accepted" for e in events)
