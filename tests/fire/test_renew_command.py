"""`certrenew renew` as a real process: rehearsed with --dry-run against the
sandbox over HTTP, and queued by hand on a real redis-server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.checks import sandbox_requests
from tests.support.deployment import Deployment, deployed
from tests.support.redis_server import RedisServer
from tests.support.sandbox import TEST_API_KEY
from tests.support.seeding import seed_certificate
from tests.support.windows import window_opening_in
from worker.ledger import Ledger

NOW = datetime.now(UTC)
DUE = (NOW - timedelta(days=80), NOW + timedelta(days=10))
QUEUE = "dramatiq:certrenew"


@pytest.fixture
def world(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> Iterator[Deployment]:
    """Three certificates at the sandbox: a renewal, a plan reissue, one not due."""
    with deployed(tmp_path, redis_server.url) as deployment:
        not_due = (NOW - timedelta(days=5), NOW + timedelta(days=150))
        seeds: dict[str, dict[str, Any]] = {
            "shop": {"validity": DUE},
            "plan": {"validity": DUE, "order_valid_till": NOW + timedelta(days=700)},
            "calm": {"validity": not_due},
        }
        for name, options in seeds.items():
            seed_certificate(deployment.sandbox, deployment.folder, name,
                             common_name=f"{name}.example.com", **options)  # fmt: skip
        yield deployment


def renew(config: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CERTRENEW_CERTCENTRAL__API_KEY": TEST_API_KEY}
    environment.pop("CERTRENEW_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "certrenew", "renew", *arguments, "--config",
         str(config)],
        capture_output=True, text=True, env=environment, timeout=60, check=False,
    )  # fmt: skip


def rows(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in json.loads(result.stdout)}


def posts(world: Deployment) -> int:
    counted = sandbox_requests(world.sandbox)["requests"]
    return sum(row["count"] for row in counted if row["route"].startswith("POST"))


def test_a_dry_run_says_what_each_due_renewal_would_order_and_posts_nothing(
    world: Deployment, redis_client: redis.Redis
) -> None:
    posts_before = posts(world)

    result = renew(world.config, "--due", "--dry-run", "--json")

    assert result.returncode == 0, result.stderr
    plans = rows(result)
    assert sorted(plans) == ["plan", "shop"], "calm is not due"
    assert plans["shop"]["action"] == "renew"
    assert plans["shop"]["product"] == "ssl_ev_securesite_flex"
    assert plans["plan"]["action"] == "reissue"
    assert plans["shop"]["install"] == "at once"
    assert plans["shop"]["due"] is True
    assert isinstance(plans["shop"]["order_id"], int)
    assert posts(world) == posts_before
    assert Ledger(redis_client).counts()["claimed"] == 0
    assert redis_client.llen(QUEUE) == 0


def test_a_dry_run_says_when_an_install_window_would_hold_the_certificate(
    world: Deployment,
) -> None:
    opens, window = window_opening_in(timedelta(hours=3), NOW)
    (world.folder / "shop.certrenew.toml").write_text(
        f'[policy]\ninstall_windows = ["{window}"]\n'
    )

    result = renew(world.config, "shop", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert f"install=when its install window opens, {opens:%Y-%m-%d %H:%M} UTC" in (
        result.stdout
    )


def test_an_unknown_name_is_a_problem_and_a_non_zero_exit(world: Deployment) -> None:
    result = renew(world.config, "shop", "nope", "--dry-run", "--json")

    assert result.returncode == 1
    assert rows(result)["nope"]["problem"] == (
        "no certificate named 'nope' in the inventory"
    )
    assert rows(result)["shop"]["problem"] is None


def test_renewing_by_name_claims_and_queues_once(
    world: Deployment, redis_client: redis.Redis
) -> None:
    first = renew(world.config, "shop", "calm", "--json")
    again = renew(world.config, "shop", "--json")

    assert first.returncode == 0, first.stderr
    assert {name: row["queued"] for name, row in rows(first).items()} == {
        "shop": True,
        "calm": True,
    }
    assert redis_client.llen(QUEUE) == 2
    assert Ledger(redis_client).counts()["claimed"] == 2
    assert again.returncode == 1
    assert rows(again)["shop"]["problem"] == "already in the ledger as claimed"
    assert redis_client.llen(QUEUE) == 2


def test_a_failed_renewal_is_not_queued_again_but_pointed_to_the_dead_letters(
    world: Deployment, redis_client: redis.Redis
) -> None:
    renew(world.config, "shop")
    ledger = Ledger(redis_client)
    (claimed,) = ledger.by_state("claimed")
    ledger.record_failed(claimed.thumbprint, code="order_rejected", message="no",
                         now=NOW)  # fmt: skip

    result = renew(world.config, "shop", "--json")

    assert result.returncode == 1
    assert rows(result)["shop"]["problem"] == (
        "already failed (order_rejected); requeue it: certrenew dlq requeue "
        f"{claimed.thumbprint[:12]}"
    )


def test_queueing_without_redis_is_refused_and_says_how_to_rehearse(
    world: Deployment, tmp_path: Path
) -> None:
    embedded = tmp_path / "embedded.toml"
    embedded.write_text(world.config.read_text().replace("[redis]\n", "[redis]\n#", 1))

    result = renew(embedded, "shop")

    assert result.returncode == 2
    assert "redis.url: queuing renewals needs the Redis server the workers read" in (
        result.stderr
    )
    assert "rehearse with --dry-run" in result.stderr


def test_a_dry_run_says_a_certificate_near_expiry_would_not_wait_for_its_window(
    world: Deployment,
) -> None:
    opens, window = window_opening_in(timedelta(days=3), NOW)
    expires_tomorrow = (NOW - timedelta(days=90), NOW + timedelta(days=1))
    seed_certificate(
        world.sandbox, world.folder, "late", common_name="late.example.com",
        validity=expires_tomorrow,
    )  # fmt: skip
    (world.folder / "late.certrenew.toml").write_text(
        f'[policy]\ninstall_windows = ["{window}"]\n'
    )

    result = renew(world.config, "late", "--dry-run", "--json")

    assert result.returncode == 0, result.stderr
    assert rows(result)["late"]["install"] == (
        "at once: it would expire within 2 days of its next window "
        f"({opens:%Y-%m-%d %H:%M} UTC)"
    )
