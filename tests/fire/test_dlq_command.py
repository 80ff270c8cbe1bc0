"""`certrenew dlq` as real processes, over renewals that really failed.

Three certificates are ordered for an organization the account lacks: DigiCert
(the sandbox) refuses each with a 400 and the worker dead-letters them. Then
the operator lists, shows, requeues (after fixing one) and purges them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from scheduler.requeue import DEAD_LETTERS_KEY, dead_messages
from tests.e2e.test_pipeline import DUE
from tests.support.deployment import deployed
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer
from tests.support.sandbox import TEST_API_KEY
from tests.support.seeding import seed_certificate
from worker.ledger import Ledger

pytestmark = pytest.mark.slow

NAMES = ("alpha", "beta", "gamma")
UNKNOWN_ORG = 999999


def dlq(config: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CERTRENEW_CERTCENTRAL__API_KEY": TEST_API_KEY}
    environment.pop("CERTRENEW_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "certrenew", "dlq", *arguments, "--config", str(config)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def listed(config: Path) -> list[dict[str, Any]]:
    answer = dlq(config, "list", "--json")
    assert answer.returncode == 0, answer.stderr
    rows: list[dict[str, Any]] = json.loads(answer.stdout)
    return rows


@pytest.fixture
def failed_world(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> Iterator[tuple[Path, Path, dict[str, str], Any]]:
    with deployed(tmp_path, redis_server.url) as deployment:
        sandbox, folder = deployment.sandbox, deployment.folder
        thumbprints = {}
        for name in NAMES:
            thumbprints[name] = seed_certificate(
                sandbox, folder, name, common_name=f"{name}.example.com", validity=DUE
            )
            (folder / f"{name}.certrenew.toml").write_text(
                f"[order]\norganization_id = {UNKNOWN_ORG}\n"
            )
        ledger = Ledger(redis_client)
        scheduler = deployment.start("scheduler")
        worker = deployment.start("worker")
        try:
            wait_until(
                lambda: (
                    len(ledger.failed()) == len(NAMES)
                    and len(dead_messages(redis_client)) == len(NAMES)
                ),
                timeout_seconds=60,
                what="every renewal failed and dead-lettered",
            )
            yield deployment.config, folder, thumbprints, (sandbox, scheduler)
        finally:
            if scheduler.process.poll() is None:
                assert scheduler.terminate() == 0, scheduler.output()
            assert worker.terminate() == 0, worker.output()


def test_dlq_list_and_show_say_what_failed_why_and_whether_a_dead_message_exists(
    failed_world: tuple[Path, Path, dict[str, str], Any],
) -> None:
    config, _, thumbprints, _ = failed_world

    rows = {row["certificate"]: row for row in listed(config)}
    assert set(rows) == set(NAMES)
    alpha = rows["alpha"]
    assert alpha["id"] == thumbprints["alpha"]
    assert alpha["action"] == "renew"
    assert alpha["alternative_order_id"] == f"certrenew{thumbprints['alpha']}g1"
    assert alpha["failure_code"] == "invalid_value:organization.id"
    assert "must be an organization of the account" in alpha["failure_message"]
    assert alpha["dead_message"] is True
    assert alpha["attempts"] >= 1
    assert alpha["failed_at"]

    shown = dlq(config, "show", thumbprints["alpha"][:8].lower(), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == alpha

    table = dlq(config, "list")
    assert "alpha" in table.stdout
    assert "invalid_value" in table.stdout

    too_short = dlq(config, "show", thumbprints["alpha"][:5])
    assert too_short.returncode == 1
    assert "too short" in too_short.stderr
    assert "at least 8" in too_short.stderr
    unknown = dlq(config, "show", "0" * 40)
    assert unknown.returncode == 1
    assert "no dead letter has the ID" in unknown.stderr


def test_dlq_requeue_renews_a_fixed_certificate_once_and_dry_run_changes_nothing(
    failed_world: tuple[Path, Path, dict[str, str], Any],
    redis_client: redis.Redis,
) -> None:
    config, folder, thumbprints, (sandbox, _) = failed_world
    orders_before = httpx.get(f"{sandbox.admin_url}/orders").json()["orders"]

    rehearsal = dlq(config, "requeue", "--all", "--dry-run")
    assert rehearsal.returncode == 0, rehearsal.stderr
    assert rehearsal.stdout.count("would requeue") == len(NAMES)
    assert len(listed(config)) == len(NAMES)

    (folder / "alpha.certrenew.toml").unlink()  # the operator fixes alpha
    answer = dlq(config, "requeue", thumbprints["alpha"][:10])
    assert answer.returncode == 0, answer.stderr
    assert "generation 2" in answer.stdout

    ledger = Ledger(redis_client)

    def alpha_installed() -> bool:
        record = ledger.get(thumbprints["alpha"])
        return record is not None and record.state == "installed"

    wait_until(alpha_installed, timeout_seconds=60, what="alpha renewed after requeue")
    record = ledger.get(thumbprints["alpha"])
    assert record is not None
    assert record.previous_alternative_order_ids == (
        f"certrenew{thumbprints['alpha']}g1",
    )
    assert {row["certificate"] for row in listed(config)} == {"beta", "gamma"}
    new_orders = httpx.get(f"{sandbox.admin_url}/orders").json()["orders"]
    renewed = [o["renewed_thumbprint"] for o in new_orders[len(orders_before) :]]
    assert renewed == [thumbprints["alpha"]]


def test_dlq_purge_drops_dead_messages_and_records_and_dry_run_keeps_them(
    failed_world: tuple[Path, Path, dict[str, str], Any],
    redis_client: redis.Redis,
) -> None:
    config, _, thumbprints, (_, scheduler) = failed_world
    # Without a scheduler, so that no scan claims the purged renewals again
    # (and fails them again) while the test reads the dead letters.
    assert scheduler.terminate() == 0, scheduler.output()

    rehearsal = dlq(config, "purge", "--all", "--dry-run")
    assert rehearsal.returncode == 0, rehearsal.stderr
    assert rehearsal.stdout.count("would purge") == len(NAMES)
    assert len(listed(config)) == len(NAMES)

    answer = dlq(config, "purge", thumbprints["beta"], thumbprints["gamma"][:8])
    assert answer.returncode == 0, answer.stderr
    assert [row["certificate"] for row in listed(config)] == ["alpha"]
    assert Ledger(redis_client).get(thumbprints["beta"]) is None
    assert redis_client.zcard(DEAD_LETTERS_KEY) == 1

    everything = dlq(config, "purge", "--all")
    assert everything.returncode == 0, everything.stderr
    assert listed(config) == []
    assert redis_client.zcard(DEAD_LETTERS_KEY) == 0


def test_dlq_refuses_the_embedded_store_with_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "certrenew.toml"
    config.write_text("")

    answer = dlq(config, "list")

    assert answer.returncode == 2
    assert "redis.url" in answer.stderr
    assert "dead letters live in Redis" in answer.stderr
