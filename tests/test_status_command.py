"""`certrenew status`, run as a process against a real redis-server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.state.ledger_steps import submit, thumbprint_of
from tests.support.redis_server import RedisServer
from worker.ledger import Ledger

NOW = datetime.now(UTC)


@pytest.fixture
def config(tmp_path: Path, redis_server: RedisServer) -> Path:
    path = tmp_path / "certrenew.toml"
    path.write_text(f'[redis]\nurl = "{redis_server.url}"\n')
    return path


@pytest.fixture
def ledger(redis_client: redis.Redis) -> Ledger:
    return Ledger(redis_client)


def status(config: Path, *options: str) -> subprocess.CompletedProcess[str]:
    # A terminal wide enough that no cell wraps (rich reads COLUMNS).
    environment = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "certrenew", "status", "--config", str(config),
         *options],
        capture_output=True, text=True, timeout=60, check=False, env=environment,
    )  # fmt: skip


def status_json(config: Path, *options: str) -> dict[str, Any]:
    result = status(config, "--json", *options)
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def claim(ledger: Ledger, name: str, at: datetime) -> str:
    thumbprint = thumbprint_of(name)
    ledger.claim(thumbprint, name=name, source="files:/certs", due_at=at, now=at)
    return thumbprint


def seed(ledger: Ledger, *, waiting: int, failed: int) -> None:
    for number in range(waiting):
        claim(ledger, f"waiting-{number}", NOW + timedelta(seconds=number))
    for number in range(failed):
        thumbprint = claim(ledger, f"failed-{number}", NOW)
        ledger.record_failed(thumbprint, code="order_rejected",
                             message=f"DigiCert rejected order {number}",
                             now=NOW + timedelta(seconds=number))  # fmt: skip


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [row["name"] for row in rows]


def test_status_counts_every_renewal_and_lists_the_longest_unchanged_first(
    config: Path, ledger: Ledger
) -> None:
    seed(ledger, waiting=5, failed=3)

    answer = status_json(config, "--limit", "2")

    assert answer["counts"]["claimed"] == 5
    assert answer["counts"]["failed"] == 3
    assert names(answer["in_flight"]) == ["waiting-0", "waiting-1"]
    assert names(answer["failed"]) == ["failed-0", "failed-1"]
    assert answer["failed"][0]["failure"] == "DigiCert rejected order 0"
    assert answer["in_flight"][0]["state"] == "claimed"


def test_status_lists_a_hundred_of_each_by_default_and_every_one_with_all(
    config: Path, ledger: Ledger
) -> None:
    seed(ledger, waiting=130, failed=2)

    default = status_json(config)
    every = status_json(config, "--all")

    assert names(default["in_flight"]) == [f"waiting-{n}" for n in range(100)]
    assert names(every["in_flight"]) == [f"waiting-{n}" for n in range(130)]
    assert len(every["failed"]) == len(default["failed"]) == 2


def test_the_table_says_how_many_of_how_many_it_shows(
    config: Path, ledger: Ledger
) -> None:
    seed(ledger, waiting=4, failed=1)

    result = status(config, "--limit", "3")

    assert result.returncode == 0, result.stderr
    words = " ".join(result.stdout.split())
    assert "renewals: claimed 4, failed 1" in words
    assert "3 of 4 in flight and 1 of 1 failed" in words
    assert "waiting-2" in result.stdout
    assert "waiting-3" not in result.stdout


@pytest.mark.parametrize("limit", ["0", "-3", "ten"])
def test_a_limit_that_is_not_a_positive_count_is_refused_by_name(
    config: Path, limit: str
) -> None:
    result = status(config, "--limit", limit)

    assert result.returncode == 2
    assert f"--limit: {limit!r} is not a whole number of at least 1" in result.stderr
    assert "--all" in result.stderr


def test_a_renewal_waiting_for_its_install_window_says_when_it_opens(
    config: Path, ledger: Ledger
) -> None:
    thumbprint = thumbprint_of("waiting")
    submit(ledger, NOW, thumbprint)
    opens = (NOW + timedelta(hours=3)).replace(second=0, microsecond=0)
    ledger.record_install_deferred(thumbprint, until=opens, now=NOW)

    answer = status_json(config)
    table = status(config)

    assert answer["in_flight"][0]["install_after"] == opens.isoformat()
    words = " ".join(table.stdout.split())
    assert f"install window opens {opens:%Y-%m-%d %H:%M} UTC" in words
