"""The scheduler's two jobs: scan and enqueue, and sync order status.

Both are plain functions of the runtime and the time, so the scheduler process,
the embedded mode and the tests run them the same way.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from certrenew.inventory import Problem
from certrenew.metrics.work import count_failed
from scheduler.scan import ScannedEntry, iter_scan
from scheduler.spreading import spread_delay_seconds
from scheduler.stalled import COLLECTING, resend_stalled
from worker.actors import collect_certificate, renew_certificate
from worker.broker import PatientRedisBroker
from worker.ledger import Claim, LedgerConflict, RenewalRecord
from worker.notify import notify_failed, notify_pending_too_long
from worker.runtime import Runtime

log = structlog.get_logger(__name__)

# DigiCert answers status-changes for windows of at most 7 days (API.md).
MAX_STATUS_WINDOW = timedelta(days=7)
# A submitted order that status-changes has not mentioned for this long is
# looked up on its own, in case a change fell between two windows.
LOOKUP_STALE_ORDERS_AFTER = timedelta(hours=1)
# Orders a sync looks up on their own at most, the longest unchanged first.
# EV orders can wait days for validation; looking up thousands of them every
# hour would spend most of DigiCert's 1,000 calls per 5 minutes (API.md) that
# renewals need. At the default sync every 5 minutes this is 600 calls an
# hour at most, and each order is still looked up in turn.
LOOKUPS_PER_SYNC = 50
# The order status the ledger keeps for an order pending past its deadline:
# flagged for people (status page, metrics, webhook), never retried or failed.
PENDING_OVERDUE = "pending_overdue"
# Due renewals claimed per round trip to Redis (bench/queueing.py).
CLAIM_BATCH = 500
# Entries due soonest that a scan keeps, for the status page.
NEXT_DUE_KEPT = 15
FAILED_ORDER_STATUSES = frozenset({"rejected", "canceled", "revoked", "expired"})


@dataclass
class ScanOutcome:
    scanned: int = 0
    due: int = 0
    queued: int = 0
    problems: list[Problem] = field(default_factory=list)
    # The entries due soonest, soonest first, for the status page. The scan
    # keeps no other entry: at 100,000 certificates they would weigh hundreds
    # of megabytes (each caller keeps what it needs through ``on_entry``).
    next_due: list[ScannedEntry] = field(default_factory=list)


def scan_and_enqueue(
    runtime: Runtime,
    *,
    now: datetime,
    on_entry: Callable[[ScannedEntry], None] | None = None,
) -> ScanOutcome:
    """Claim every due certificate in the ledger and queue its renewal once."""
    outcome = ScanOutcome()
    soonest = _Soonest(NEXT_DUE_KEPT)
    due: list[ScannedEntry] = []
    for item in iter_scan(runtime.sources.values(), now):
        if isinstance(item, Problem):
            outcome.problems.append(item)
            continue
        outcome.scanned += 1
        soonest.offer(item)
        if on_entry is not None:
            on_entry(item)
        if item.due.is_due:
            outcome.due += 1
            due.append(item)
        if len(due) >= CLAIM_BATCH:
            outcome.queued += _claim_and_enqueue(runtime, due, now=now)
            due = []
    outcome.queued += _claim_and_enqueue(runtime, due, now=now)
    outcome.next_due = soonest.in_order()

    log.info(
        "scan_enqueued",
        scanned=outcome.scanned,
        due=outcome.due,
        queued=outcome.queued,
        problems=len(outcome.problems),
    )
    return outcome


class _Soonest:
    """The ``size`` entries due soonest among all offered, in constant memory."""

    def __init__(self, size: int) -> None:
        self.size = size
        # A max-heap by due time (negated), so the latest of those kept is
        # the one pushed out; the count keeps scan order among equal times.
        self._heap: list[tuple[float, int, ScannedEntry]] = []
        self._offered = 0

    def offer(self, scanned: ScannedEntry) -> None:
        self._offered += 1
        item = (-scanned.due.due_at.timestamp(), -self._offered, scanned)
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, item)
        elif item > self._heap[0]:
            heapq.heapreplace(self._heap, item)

    def in_order(self) -> list[ScannedEntry]:
        return [scanned for *_, scanned in sorted(self._heap, reverse=True)]


def _claim_and_enqueue(
    runtime: Runtime, batch: list[ScannedEntry], *, now: datetime
) -> int:
    """Claim a batch in one round trip, then queue the renewals that were ours."""
    if not batch:
        return 0
    by_thumbprint = {item.entry.facts.thumbprint: item for item in batch}
    claims = [
        Claim(thumbprint, item.entry.name, item.entry.source, item.due.due_at)
        for thumbprint, item in by_thumbprint.items()
    ]
    claimed = runtime.ledger.claim_many(claims, now=now)

    with _batched_sends():
        _send_renewals(claimed, by_thumbprint, now=now)
    return len(claimed)


def _batched_sends() -> AbstractContextManager[None]:
    broker = renew_certificate.broker
    if isinstance(broker, PatientRedisBroker):
        return broker.batched_sends()
    return nullcontext()


def _send_renewals(
    claimed: list[Claim], by_thumbprint: dict[str, ScannedEntry], *, now: datetime
) -> None:
    for claim in claimed:
        item = by_thumbprint[claim.thumbprint]
        entry, due = item.entry, item.due
        delay_seconds = spread_delay_seconds(entry, due, now=now)
        delay_ms = int(delay_seconds * 1000)
        renew_certificate.send_with_options(
            args=(entry.source, entry.name, entry.facts.thumbprint),
            # Dramatiq sends any delay, even 0, through its delay queue: a
            # worker fetches the message there, queues it again and acks it
            # before any worker can run it (about an eighth of a worker's
            # CPU per renewal, bench 7). A renewal due now goes straight in.
            delay=delay_ms if delay_ms > 0 else None,
        )
        log.info(
            "renewal_queued",
            certificate=entry.name,
            thumbprint=entry.facts.thumbprint,
            reason=due.reason,
            delay_seconds=round(delay_seconds),
        )


@dataclass
class SyncOutcome:
    changes: int = 0
    collecting: int = 0
    failed: int = 0
    looked_up: int = 0
    # Stale orders left for the next syncs (LOOKUPS_PER_SYNC).
    lookups_deferred: int = 0
    resent: int = 0


def sync_orders(
    runtime: Runtime, *, now: datetime, since: datetime | None
) -> SyncOutcome:
    """Move submitted renewals on from what DigiCert says of their orders."""
    outcome = SyncOutcome()
    in_flight = {
        record.order_id: record
        for record in runtime.ledger.by_state("submitted")
        if record.order_id is not None
    }
    outcome.resent = resend_stalled(runtime, now=now)
    if not in_flight:
        return outcome

    window = min(now - since, MAX_STATUS_WINDOW) if since else MAX_STATUS_WINDOW
    # A minute of overlap, so a change on the boundary is never missed.
    overlapped = min(window + timedelta(minutes=1), MAX_STATUS_WINDOW)
    seconds = max(int(overlapped.total_seconds()), 60)
    changes = runtime.client.status_changes(seconds=seconds)
    seen = set()
    for change in changes:
        record = in_flight.get(change.order_id)
        if record is None:
            continue
        seen.add(change.order_id)
        outcome.changes += 1
        _apply_status(
            runtime,
            record,
            change.status,
            now=now,
            outcome=outcome,
        )

    stale = _stale_orders(in_flight.values(), seen=seen, now=now)
    _look_up_one_by_one(runtime, stale[:LOOKUPS_PER_SYNC], now=now, outcome=outcome)
    outcome.lookups_deferred = max(len(stale) - LOOKUPS_PER_SYNC, 0)
    log.info("sync_finished", **outcome.__dict__)
    return outcome


def _stale_orders(
    records: Iterable[RenewalRecord], *, seen: set[int], now: datetime
) -> list[RenewalRecord]:
    """Orders to look up on their own, the longest unchanged first.

    A collection already queued is left out: its order is known to be issued,
    and the stalled-message look (scheduler/stalled.py) sees to the rest.
    """
    stale = [
        record
        for record in records
        if record.order_id not in seen
        and record.order_status != COLLECTING
        and now - record.updated_at > LOOKUP_STALE_ORDERS_AFTER
    ]
    return sorted(stale, key=lambda record: record.updated_at)


def _apply_status(
    runtime: Runtime,
    record: RenewalRecord,
    status: str,
    *,
    now: datetime,
    outcome: SyncOutcome,
) -> None:
    """Move one renewal on; one that a worker moved meanwhile is left to it."""
    try:
        _move_on(runtime, record, status, now=now, outcome=outcome)
    except LedgerConflict as conflict:
        # Read before a worker installed or failed it: the ledger refuses to go
        # back, and the worker's word is the later one.
        log.debug(
            "renewal_moved_on",
            thumbprint=record.thumbprint,
            state=conflict.current_state,
        )


def _move_on(
    runtime: Runtime,
    record: RenewalRecord,
    status: str,
    *,
    now: datetime,
    outcome: SyncOutcome,
) -> None:
    if status == "issued" and record.order_status == COLLECTING:
        return  # its collection is already queued
    if status == "issued":
        runtime.ledger.record_order_status(
            record.thumbprint, order_status=COLLECTING, now=now
        )
        collect_certificate.send(record.source, record.name, record.thumbprint)
        log.info("collection_queued", certificate=record.name, order_id=record.order_id)
        outcome.collecting += 1
    elif status in FAILED_ORDER_STATUSES:
        failed = runtime.ledger.record_failed(
            record.thumbprint,
            code=f"order_{status}",
            message=f"DigiCert {status} order {record.order_id}",
            now=now,
        )
        count_failed(record.action)
        outcome.failed += 1
        log.error(
            "renewal_failed",
            certificate=record.name,
            order_id=record.order_id,
            code=f"order_{status}",
        )
        notify_failed(runtime, failed, now=now)
    elif _pending_too_long(runtime, record, now=now):
        _flag_pending_too_long(runtime, record, now=now)
    else:
        runtime.ledger.record_order_status(
            record.thumbprint, order_status=status, now=now
        )


def _look_up_one_by_one(
    runtime: Runtime,
    records: Iterable[RenewalRecord],
    *,
    now: datetime,
    outcome: SyncOutcome,
) -> None:
    for record in records:
        if record.order_id is None:
            continue
        info = runtime.client.order_info(record.order_id)
        outcome.looked_up += 1
        _apply_status(runtime, record, info.status, now=now, outcome=outcome)


def _pending_too_long(
    runtime: Runtime, record: RenewalRecord, *, now: datetime
) -> bool:
    deadline = timedelta(days=runtime.settings.policy.pending_deadline_days)
    return record.submitted_at is not None and now - record.submitted_at > deadline


def _flag_pending_too_long(
    runtime: Runtime, record: RenewalRecord, *, now: datetime
) -> None:
    """Pending is not failure (DESIGN.md step 6): flag it, once, and wait on.

    The ledger keeps ``order_status = pending_overdue`` for the status page and
    the metrics; the log line and the webhook go out the first time only. The
    renewal stays submitted: the sync keeps following its order.
    """
    runtime.ledger.record_order_status(
        record.thumbprint, order_status=PENDING_OVERDUE, now=now
    )
    if record.order_status == PENDING_OVERDUE or record.submitted_at is None:
        return
    log.warning(
        "renewal_pending_too_long",
        certificate=record.name,
        order_id=record.order_id,
        pending_since=record.submitted_at.isoformat(),
    )
    notify_pending_too_long(runtime, record, now=now)
