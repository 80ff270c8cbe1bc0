"""The scheduler's jobs against the sandbox, on the embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certrenew.samples import LocalCA
from sandbox import SandboxServer
from scheduler.jobs import (
    NEXT_DUE_KEPT,
    SyncOutcome,
    _apply_status,
    scan_and_enqueue,
    sync_orders,
)
from scheduler.scan import ScannedEntry
from scheduler.stalled import COLLECTING
from tests.inventory.conftest import csr_pem, write_pair
from tests.support.checks import calls_to
from tests.support.runtimes import claim_and_renew, runtime_at_sandbox
from tests.support.sandbox import PENDING_EV_ORG
from tests.support.seeding import seed_certificate
from worker.runtime import Runtime

NOW = datetime.now(UTC)
DUE = (NOW - timedelta(days=80), NOW + timedelta(days=10))
QUEUE = "dramatiq:certrenew"
DELAYED = "dramatiq:certrenew.DQ"


@pytest.fixture
def runtime(sandbox: SandboxServer, tmp_path: Path) -> Iterator[Runtime]:
    runtime = runtime_at_sandbox(sandbox, tmp_path)
    yield runtime
    runtime.close()


def queued_messages(runtime: Runtime) -> int:
    return int(runtime.redis.llen(QUEUE)) + int(runtime.redis.llen(DELAYED))


def test_scanning_twice_queues_each_due_renewal_once(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path
) -> None:
    seed_certificate(sandbox, tmp_path, "a", common_name="a.example.com", validity=DUE)
    seed_certificate(sandbox, tmp_path, "b", common_name="b.example.com", validity=DUE)

    first = scan_and_enqueue(runtime, now=NOW)
    second = scan_and_enqueue(runtime, now=NOW)

    assert (first.due, first.queued) == (2, 2)
    assert (second.due, second.queued) == (2, 0)
    assert queued_messages(runtime) == 2
    assert {r.name for r in runtime.ledger.by_state("claimed")} == {"a", "b"}


def test_a_renewal_with_no_slack_is_queued_ready_and_one_with_slack_is_spread(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path
) -> None:
    # Ten days left is under the 30-day floor: no slack, it goes at once.
    seed_certificate(sandbox, tmp_path, "now", common_name="a.example", validity=DUE)
    # Due a few hours ago by the lifetime fraction, months before its floor:
    # spread over the next hours.
    not_after = NOW + timedelta(days=132, hours=12)
    slack = (not_after - timedelta(days=398), not_after)
    seed_certificate(
        sandbox, tmp_path, "later", common_name="b.example", validity=slack
    )

    outcome = scan_and_enqueue(runtime, now=NOW)

    assert outcome.queued == 2
    # Not through the delay queue with a delay of 0, which costs a worker a
    # fetch, a send and an ack before the renewal can run.
    assert runtime.redis.llen(QUEUE) == 1
    assert runtime.redis.llen(DELAYED) == 1


def test_a_scan_streams_every_entry_and_keeps_only_the_soonest_due(
    runtime: Runtime, tmp_path: Path
) -> None:
    local_ca = LocalCA(NOW)
    key = ec.generate_private_key(ec.SECP256R1())
    for number in range(NEXT_DUE_KEPT + 5):
        # Scanned in name order, each due a week sooner than the one before;
        # none due yet, so nothing is claimed.
        not_after = NOW + timedelta(days=300 - 7 * number)
        name = f"host{number:02d}"
        chain = local_ca(
            csr_pem(key, name), name, [name], not_after - timedelta(days=398), not_after
        )
        write_pair(tmp_path, name, chain, key)
    seen: list[ScannedEntry] = []

    outcome = scan_and_enqueue(runtime, now=NOW, on_entry=seen.append)

    assert [s.entry.name for s in seen] == sorted(s.entry.name for s in seen)
    assert outcome.scanned == len(seen) == NEXT_DUE_KEPT + 5
    assert (outcome.due, outcome.queued) == (0, 0)
    soonest_first = [f"host{number:02d}" for number in range(NEXT_DUE_KEPT + 4, 4, -1)]
    assert [s.entry.name for s in outcome.next_due] == soonest_first


def test_an_issued_order_is_collected_once_and_a_rejected_one_fails(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path
) -> None:
    for name in ("kept", "doomed"):
        thumbprint = seed_certificate(
            sandbox, tmp_path, name, common_name=f"{name}.example.net",
            organization_id=PENDING_EV_ORG, validity=DUE,
        )  # fmt: skip
        claim_and_renew(runtime, tmp_path, name, thumbprint, NOW)
    records = {r.name: r for r in runtime.ledger.by_state("submitted")}
    assert {r.order_status for r in records.values()} == {"pending"}

    admin = httpx.Client(base_url=sandbox.admin_url)
    admin.post(f"/orders/{records['doomed'].order_id}/reject").raise_for_status()
    admin.post(f"/organizations/{PENDING_EV_ORG}/validate").raise_for_status()
    later = datetime.now(UTC)
    sync_orders(runtime, now=later, since=NOW - timedelta(minutes=5))
    again = sync_orders(runtime, now=later, since=NOW - timedelta(minutes=5))

    kept = runtime.ledger.get(records["kept"].thumbprint)
    doomed = runtime.ledger.get(records["doomed"].thumbprint)
    assert kept is not None
    assert kept.order_status == COLLECTING
    assert doomed is not None
    assert doomed.state == "failed"
    assert doomed.failure_code == "order_rejected"
    assert again.collecting == 0, "a second sync must not queue a second collection"
    assert int(runtime.redis.llen(QUEUE)) == 1


def test_an_order_status_changes_missed_is_looked_up_on_its_own_after_a_while(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path
) -> None:
    thumbprint = seed_certificate(
        sandbox, tmp_path, "quiet", common_name="quiet.example.net",
        organization_id=PENDING_EV_ORG, validity=DUE,
    )  # fmt: skip
    claim_and_renew(runtime, tmp_path, "quiet", thumbprint, NOW)
    admin = httpx.Client(base_url=sandbox.admin_url)
    admin.post(f"/organizations/{PENDING_EV_ORG}/validate").raise_for_status()
    admin.post("/clock", json={"advance_seconds": 2 * 3600}).raise_for_status()

    # A sync whose window does not reach back to the change sees nothing new;
    # two hours later the order is looked up by itself.
    in_two_hours = NOW + timedelta(hours=2)
    outcome = sync_orders(runtime, now=in_two_hours, since=in_two_hours)

    assert outcome.looked_up == 1
    record = runtime.ledger.get(thumbprint)
    assert record is not None
    assert record.order_status == COLLECTING


ORDER_INFO = "GET /order/certificate/{id}"


def renew_pending(
    runtime: Runtime, sandbox: SandboxServer, folder: Path, name: str, at: datetime
) -> str:
    """One renewal whose order waits at DigiCert for the organization."""
    thumbprint = seed_certificate(
        sandbox, folder, name, common_name=f"{name}.example.net",
        organization_id=PENDING_EV_ORG, validity=DUE,
    )  # fmt: skip
    claim_and_renew(runtime, folder, name, thumbprint, at)
    return thumbprint


def test_a_sync_looks_up_a_bounded_number_of_orders_the_longest_unchanged_first(
    runtime: Runtime,
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("scheduler.jobs.LOOKUPS_PER_SYNC", 2)
    thumbprints = [
        renew_pending(runtime, sandbox, tmp_path, name, NOW + timedelta(minutes=n))
        for n, name in enumerate(("first", "second", "third"))
    ]
    admin = httpx.Client(base_url=sandbox.admin_url)
    admin.post("/clock", json={"advance_seconds": 3 * 3600}).raise_for_status()
    lookups_before = calls_to(sandbox, ORDER_INFO)

    later = NOW + timedelta(hours=3)
    first_sync = sync_orders(runtime, now=later, since=later)
    looked_up_first = calls_to(sandbox, ORDER_INFO) - lookups_before
    then = later + timedelta(minutes=5)
    second_sync = sync_orders(runtime, now=then, since=later)

    assert (first_sync.looked_up, first_sync.lookups_deferred) == (2, 1)
    assert looked_up_first == 2
    assert (second_sync.looked_up, second_sync.lookups_deferred) == (1, 0)
    assert calls_to(sandbox, ORDER_INFO) - lookups_before == 3
    updated = [runtime.ledger.get(thumbprint) for thumbprint in thumbprints]
    assert [record.updated_at if record else None for record in updated] == [
        later,
        later,
        then,
    ]


def test_a_sync_does_not_look_up_an_order_whose_collection_is_queued(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path
) -> None:
    thumbprint = renew_pending(runtime, sandbox, tmp_path, "queued", NOW)
    runtime.ledger.record_order_status(thumbprint, order_status=COLLECTING, now=NOW)
    admin = httpx.Client(base_url=sandbox.admin_url)
    admin.post("/clock", json={"advance_seconds": 2 * 3600}).raise_for_status()
    lookups_before = calls_to(sandbox, ORDER_INFO)

    in_two_hours = NOW + timedelta(hours=2)
    outcome = sync_orders(runtime, now=in_two_hours, since=in_two_hours)

    assert outcome.looked_up == 0
    assert calls_to(sandbox, ORDER_INFO) == lookups_before


def test_a_renewal_a_worker_moved_on_during_the_sync_is_left_alone(
    runtime: Runtime, sandbox: SandboxServer, tmp_path: Path
) -> None:
    thumbprint = seed_certificate(
        sandbox, tmp_path, "raced", common_name="raced.example.net",
        organization_id=PENDING_EV_ORG, validity=DUE,
    )  # fmt: skip
    claim_and_renew(runtime, tmp_path, "raced", thumbprint, NOW)
    read_by_the_sync = runtime.ledger.get(thumbprint)
    assert read_by_the_sync is not None
    # Meanwhile a worker collects and installs it.
    runtime.ledger.record_issued(thumbprint, certificate_id=1, now=NOW)
    runtime.ledger.record_installed(
        thumbprint, new_thumbprint="F" * 40, not_after=NOW, location="x", now=NOW
    )

    outcome = SyncOutcome()
    _apply_status(runtime, read_by_the_sync, "issued", now=NOW,
                  outcome=outcome)  # fmt: skip

    record = runtime.ledger.get(thumbprint)
    assert record is not None
    assert record.state == "installed"
    assert outcome.collecting == 0


def test_a_renewal_whose_message_was_lost_is_sent_again_once_per_stall(
    runtime: Runtime, tmp_path: Path
) -> None:
    long_ago = NOW - timedelta(days=2)
    thumbprint = "A" * 40
    runtime.ledger.claim(thumbprint, name="lost", source=f"files:{tmp_path}",
                         due_at=long_ago, now=long_ago)  # fmt: skip
    runtime.ledger.record_key_stored(thumbprint, key_location="x", now=long_ago)
    fresh = "B" * 40
    runtime.ledger.claim(fresh, name="fresh", source=f"files:{tmp_path}",
                         due_at=NOW, now=NOW)  # fmt: skip

    first = sync_orders(runtime, now=NOW, since=None)
    second = sync_orders(runtime, now=NOW + timedelta(minutes=1), since=NOW)

    assert first.resent == 1
    assert second.resent == 0
    assert queued_messages(runtime) == 1
