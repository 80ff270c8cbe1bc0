"""Stalled messages are sent again once per stall period, on a real Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis

from sandbox import SandboxServer
from scheduler.jobs import sync_orders
from scheduler.stalled import COLLECTING, RESEND_COLLECT_AFTER
from tests.state.ledger_steps import submit
from tests.support.runtimes import claim_and_renew
from tests.support.sandbox import PENDING_EV_ORG
from tests.support.seeding import seed_certificate
from worker.runtime import Runtime

NOW = datetime.now(UTC)
DUE = (NOW - timedelta(days=80), NOW + timedelta(days=10))
QUEUE = "dramatiq:certrenew"
MESSAGES = "dramatiq:certrenew.msgs"


@pytest.fixture
def runtime(runtime_on_redis: Runtime) -> Runtime:
    return runtime_on_redis


def queued_actors(client: redis.Redis) -> list[str]:
    """The actor of every message waiting in the queue, oldest first."""
    names = []
    for message_id in client.lrange(QUEUE, 0, -1):
        body = client.hget(MESSAGES, message_id)
        assert body is not None
        names.append(json.loads(body)["actor_name"])
    return names


def test_a_stalled_collection_is_sent_again_once_per_period_not_at_every_sync(
    runtime: Runtime,
    sandbox: SandboxServer,
    tmp_path: Path,
    redis_client: redis.Redis,
) -> None:
    thumbprint = seed_certificate(
        sandbox, tmp_path, "slow", common_name="slow.example.net",
        organization_id=PENDING_EV_ORG, validity=DUE,
    )  # fmt: skip
    claim_and_renew(runtime, tmp_path, "slow", thumbprint, NOW)
    admin = httpx.Client(base_url=sandbox.admin_url)
    admin.post(f"/organizations/{PENDING_EV_ORG}/validate").raise_for_status()
    since = NOW - timedelta(minutes=5)
    queued = sync_orders(runtime, now=NOW, since=since)
    record = runtime.ledger.get(thumbprint)
    assert record is not None
    assert (queued.collecting, record.order_status) == (1, COLLECTING)

    # The collect message is lost: nothing moves the renewal any more, and the
    # sync runs every few minutes.
    period = RESEND_COLLECT_AFTER
    minutes = timedelta(minutes=1)
    syncs_at = [
        NOW + period - minutes,  # not stalled yet
        NOW + period + minutes,  # stalled: sent again
        NOW + period + 2 * minutes,
        NOW + 2 * period,  # still within the period of the first resend
        NOW + 2 * period + minutes,  # a new period: sent again
        NOW + 2 * period + 5 * minutes,
    ]
    resent = [sync_orders(runtime, now=at, since=since).resent for at in syncs_at]

    assert resent == [0, 1, 0, 0, 1, 0]
    assert queued_actors(redis_client) == ["collect_certificate"] * 3


def test_a_sync_reads_only_the_renewals_idle_past_their_stall(
    runtime: Runtime, tmp_path: Path, redis_client: redis.Redis
) -> None:
    source = f"files:{tmp_path}"
    long_ago = NOW - timedelta(days=2)
    runtime.ledger.claim("A" * 40, name="lost", source=source,
                         due_at=long_ago, now=long_ago)  # fmt: skip
    runtime.ledger.record_key_stored("A" * 40, key_location="x", now=long_ago)
    # A large run just claimed: none of these has waited long enough to stall.
    for number in range(50):
        runtime.ledger.claim(f"{number:040X}", name=f"fresh{number}",
                             source=source, due_at=NOW, now=NOW)  # fmt: skip
    redis_client.config_resetstat()

    outcome = sync_orders(runtime, now=NOW, since=None)

    calls = {
        name.removeprefix("cmdstat_"): stats["calls"]
        for name, stats in redis_client.info("commandstats").items()
    }
    assert outcome.resent == 1
    # The stalled record alone is read, and its resend time in one round trip.
    assert calls["hgetall"] == 1
    assert calls["mget"] == 1
    assert "get" not in calls
    assert queued_actors(redis_client) == ["renew_certificate"]


def test_a_sync_reads_no_renewal_that_waits_for_its_install_window(
    runtime: Runtime, tmp_path: Path, redis_client: redis.Redis
) -> None:
    long_ago = NOW - timedelta(days=2)
    opens = NOW + timedelta(days=1)
    for number in range(50):
        thumbprint = f"{number:040X}"
        submit(runtime.ledger, long_ago, thumbprint, order_id=number + 1)
        runtime.ledger.record_issued(thumbprint, certificate_id=number, now=long_ago)
        runtime.ledger.record_install_deferred(thumbprint, until=opens, now=long_ago)
    redis_client.config_resetstat()

    before_the_window = sync_orders(runtime, now=NOW, since=None)
    reads = redis_client.info("commandstats").get("cmdstat_hgetall", {"calls": 0})
    # Long after the window opened, a lost collect message is sent again.
    after_the_window = sync_orders(runtime, now=opens + timedelta(days=1), since=NOW)

    assert before_the_window.resent == 0
    assert reads["calls"] == 0
    assert after_the_window.resent == 50
