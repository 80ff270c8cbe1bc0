"""A transient failure logs one warning line; an unexpected one its traceback.

A real Dramatiq worker runs in this process on a real redis-server, and its
log output (ours and Dramatiq's, through certrenew's logging) is read back.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from certrenew.config import (
    LoggingSettings,
)
from certrenew.logs import configure_logging
from sandbox import SandboxServer
from tests.fire.test_classification import working
from tests.support.checks import set_faults
from tests.support.logs import undo_logging_setup
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer
from tests.support.runtimes import runtime_at_sandbox
from tests.support.seeding import seed_certificate
from worker.actors import renew_certificate
from worker.runtime import Runtime

NOW = datetime.now(UTC)
DUE = (NOW - timedelta(days=80), NOW + timedelta(days=10))
# Dramatiq's Retries middleware, once it has put the message off.
RETRY_SCHEDULED = "Retrying message"
UNHANDLED = "with unhandled exception"


class Output:
    """The log lines written while the test runs, as certrenew writes them."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if event in line["event"]]


@pytest.fixture
def output() -> Iterator[Output]:
    captured = Output()
    configure_logging(
        LoggingSettings(format="json", level="info"),
        stream=captured.stream,
        process="worker",
    )
    yield captured
    undo_logging_setup()


@pytest.fixture
def runtime(
    sandbox: SandboxServer,
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
) -> Runtime:
    # The default backoff (15 s at least) keeps a retried message waiting in
    # the delay queue until the test has ended.
    return runtime_at_sandbox(sandbox, tmp_path, redis_url=redis_server.url)


def test_a_server_error_logs_one_warning_line_without_a_traceback_and_is_retried(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path, output: Output
) -> None:
    thumbprint = seed_certificate(
        sandbox, tmp_path, "flaky", common_name="flaky.example.com", validity=DUE
    )
    set_faults(sandbox, error_rate=1.0)

    with working(runtime):
        renew_certificate.send(f"files:{tmp_path}", "flaky", thumbprint)
        wait_until(
            lambda: output.events(RETRY_SCHEDULED),
            timeout_seconds=30,
            what="Dramatiq to schedule a retry",
        )

    (retrying,) = output.events("step_retrying")
    assert retrying["level"] == "warning"
    assert retrying["error"] == "ApiTransientError"
    assert "(HTTP 5" in retrying["reason"]
    assert retrying["certificate"] == "flaky"
    assert "exception" not in retrying
    assert "Traceback" not in output.text
    assert output.events(UNHANDLED) == []
    record = runtime.ledger.get(thumbprint)
    assert record is not None
    assert record.state != "failed"


def test_an_unexpected_error_keeps_its_traceback(
    runtime: Runtime, output: Output
) -> None:
    with working(runtime):
        # A message no scheduler would send: the ledger refuses its thumbprint
        # with a ValueError, which nothing classifies.
        renew_certificate.send("files:/nowhere", "odd", "not-a-thumbprint")
        wait_until(
            lambda: output.events(UNHANDLED),
            timeout_seconds=30,
            what="the worker to log the failed message",
        )

    (failed,) = output.events(UNHANDLED)
    assert failed["level"] == "error"
    assert failed["exception"].startswith("Traceback (most recent call last):")
    assert (
        "ValueError: thumbprint must be 40 uppercase hex digits"
        in (failed["exception"])
    )
    assert output.events("step_retrying") == []
