"""How each kind of failure is treated (issue 5, "Failures, classified").

The embedded runtime renews against the sandbox over HTTP, with a real
Dramatiq worker in this process, so retries, dead letters and the ledger's
failed records run exactly as in `certrenew worker`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dramatiq
import httpx

from certrenew.config import (
    OrderSettings,
    PolicySettings,
    RetrySettings,
)
from sandbox import SandboxServer
from scheduler.jobs import PENDING_OVERDUE, sync_orders
from tests.support.checks import (
    assert_installed_with_matching_key,
    calls_to,
    orders_per_renewed_thumbprint,
    set_faults,
)
from tests.support.processes import wait_until
from tests.support.runtimes import runtime_at_sandbox
from tests.support.sandbox import PENDING_EV_ORG, TEST_API_KEY, running_sandbox
from tests.support.seeding import seed_certificate
from worker.actors import renew_certificate
from worker.installation import collect
from worker.ledger import RenewalRecord
from worker.renewal import RenewalTarget, renew
from worker.runtime import Runtime

NOW = datetime.now(UTC)
DUE = (NOW - timedelta(days=80), NOW + timedelta(days=10))
ORDER_ROUTE = "POST /order/certificate/{product}"


def embedded_runtime(sandbox: SandboxServer, folder: Path, **sections: Any) -> Runtime:
    return runtime_at_sandbox(
        sandbox,
        folder,
        retry=RetrySettings(min_backoff_seconds=0.05, max_backoff_seconds=0.2),
        **sections,
    )


@contextmanager
def working(runtime: Runtime) -> Iterator[None]:
    """A Dramatiq worker over the runtime's broker, for the block."""
    worker = dramatiq.Worker(dramatiq.get_broker(), worker_timeout=50, worker_threads=2)
    worker.start()
    try:
        yield
    finally:
        worker.stop()
        runtime.close()


def send_renewal(runtime: Runtime, folder: Path, name: str, thumbprint: str) -> None:
    source = f"files:{folder}"
    runtime.ledger.claim(thumbprint, name=name, source=source, due_at=NOW, now=NOW)
    renew_certificate.send(source, name, thumbprint)


def final_record(runtime: Runtime, thumbprint: str) -> RenewalRecord:
    def finished() -> bool:
        record = runtime.ledger.get(thumbprint)
        return record is not None and record.state in {"installed", "failed"}

    wait_until(finished, timeout_seconds=30, what="the renewal to finish")
    record = runtime.ledger.get(thumbprint)
    assert record is not None
    return record


def seed(sandbox: SandboxServer, folder: Path, name: str, **options: Any) -> str:
    return seed_certificate(
        sandbox, folder, name, common_name=f"{name}.example.com", validity=DUE,
        **options,
    )  # fmt: skip


def test_server_errors_are_retried_and_the_renewal_is_then_installed(
    tmp_path: Path,
) -> None:
    with running_sandbox() as sandbox:
        thumbprint = seed(sandbox, tmp_path, "flaky")
        set_faults(sandbox, error_rate=1.0)
        runtime = embedded_runtime(sandbox, tmp_path)
        with working(runtime):
            send_renewal(runtime, tmp_path, "flaky", thumbprint)
            wait_until(
                lambda: calls_to(sandbox, "GET /order/certificate/{id}") >= 3,
                timeout_seconds=30,
                what="three tries against the failing API",
            )
            set_faults(sandbox, error_rate=0.0)
            record = final_record(runtime, thumbprint)

        assert record.state == "installed"
        assert record.attempts >= 4
        assert_installed_with_matching_key(tmp_path, "flaky")
        assert orders_per_renewed_thumbprint(sandbox)[thumbprint] == 1


def test_a_refusal_by_digicert_fails_at_once_with_its_code_and_message(
    tmp_path: Path,
) -> None:
    with running_sandbox(
        api_keys=(TEST_API_KEY,), admin=True, account_balance_orders=0
    ) as sandbox:
        thumbprint = seed(sandbox, tmp_path, "unpaid")
        runtime = embedded_runtime(sandbox, tmp_path)
        with working(runtime):
            send_renewal(runtime, tmp_path, "unpaid", thumbprint)
            record = final_record(runtime, thumbprint)

        assert record.state == "failed"
        assert record.attempts == 1
        assert record.failure_code == "insufficient_funds"
        assert "The account balance cannot pay this order." in (
            record.failure_message or ""
        )
        assert calls_to(sandbox, ORDER_ROUTE) == 1


def test_a_payload_refused_locally_fails_without_calling_the_order_endpoint(
    tmp_path: Path,
) -> None:
    with running_sandbox() as sandbox:
        thumbprint = seed(sandbox, tmp_path, "typo")
        runtime = embedded_runtime(
            sandbox, tmp_path, order=OrderSettings(additional_emails=["ops-at-example"])
        )
        with working(runtime):
            send_renewal(runtime, tmp_path, "typo", thumbprint)
            record = final_record(runtime, thumbprint)

        assert record.state == "failed"
        assert record.attempts == 1
        assert "additional_emails[0]" in (record.failure_message or "")
        assert "ops-at-example" in (record.failure_message or "")
        assert calls_to(sandbox, ORDER_ROUTE) == 0
        assert orders_per_renewed_thumbprint(sandbox)[thumbprint] == 0


def test_a_requeued_renewal_adopts_the_order_of_its_earlier_generation(
    tmp_path: Path,
) -> None:
    with running_sandbox() as sandbox:
        thumbprint = seed(sandbox, tmp_path, "again", organization_id=PENDING_EV_ORG)
        runtime = embedded_runtime(sandbox, tmp_path)
        source = f"files:{tmp_path}"
        target = RenewalTarget(source, "again", thumbprint)
        runtime.ledger.claim(thumbprint, name="again", source=source, due_at=NOW,
                             now=NOW)  # fmt: skip
        renew(runtime, target, now=NOW)
        first = runtime.ledger.get(thumbprint)
        assert first is not None
        # The order was placed, but the ledger lost track of it and an
        # operator requeued the renewal: a new generation, a new alternative id.
        runtime.ledger.record_failed(thumbprint, code="lost", message="lost",
                                     now=NOW)  # fmt: skip
        runtime.ledger.requeue(thumbprint, now=NOW)
        renew(runtime, target, now=NOW)
        second = runtime.ledger.get(thumbprint)
        assert second is not None
        assert second.generation == first.generation + 1
        assert second.alternative_order_id != first.alternative_order_id
        assert second.state == "submitted"
        assert second.order_id == first.order_id
        assert orders_per_renewed_thumbprint(sandbox)[thumbprint] == 1

        # The adopted order carries the key of the first generation's CSR.
        httpx.post(f"{sandbox.admin_url}/organizations/{PENDING_EV_ORG}/validate")
        collect(runtime, source, "again", thumbprint, now=NOW)
        runtime.close()
    assert_installed_with_matching_key(tmp_path, "again")


def test_an_order_pending_past_its_deadline_is_flagged_not_retried_or_failed(
    tmp_path: Path,
) -> None:
    with running_sandbox() as sandbox:
        thumbprint = seed(sandbox, tmp_path, "slow", organization_id=PENDING_EV_ORG)
        runtime = embedded_runtime(
            sandbox, tmp_path, policy=PolicySettings(pending_deadline_days=3)
        )
        source = f"files:{tmp_path}"
        runtime.ledger.claim(thumbprint, name="slow", source=source, due_at=NOW,
                             now=NOW)  # fmt: skip
        renew(runtime, RenewalTarget(source, "slow", thumbprint), now=NOW)
        submitted = runtime.ledger.get(thumbprint)
        assert submitted is not None
        assert submitted.submitted_at is not None
        httpx.post(f"{sandbox.admin_url}/clock",
                   json={"advance_seconds": 4 * 86400}).raise_for_status()  # fmt: skip
        later = submitted.submitted_at + timedelta(days=4)
        orders_before = calls_to(sandbox, ORDER_ROUTE)
        for _ in range(2):
            sync_orders(runtime, now=later, since=later - timedelta(minutes=5))
        orders_after = calls_to(sandbox, ORDER_ROUTE)
        runtime.close()

    record = runtime.ledger.get(thumbprint)
    assert record is not None
    assert record.state == "submitted"
    assert record.order_status == PENDING_OVERDUE
    assert record.failure_code is None
    assert orders_after == orders_before
    assert int(runtime.redis.llen("dramatiq:certrenew")) == 0
