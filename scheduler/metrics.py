"""The scheduler's metrics: certificates from the last scan, the ledger, the
queues and the scheduler itself, read when Prometheus scrapes.

Certificate gauges come from a snapshot the scan job replaces whole after each
scan, so a certificate that left the inventory leaves the metrics with it. The
ledger, queue and breaker gauges are read from Redis at scrape time with a few
cheap calls (ZCARD per ledger state, LLEN and ZCARD on Dramatiq's keys); a
scrape while Redis is down leaves those families out rather than failing.
The counters of renewals and API calls live in ``certrenew.metrics.work``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import redis
import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from certrenew.inventory import Problem
from scheduler.scan import ScannedEntry
from worker.broker import NAMESPACE, QUEUE
from worker.ledger import IN_FLIGHT_STATES, InstallWait, PendingOrders, RenewalState
from worker.runtime import Runtime

if TYPE_CHECKING:
    from scheduler.service import SchedulerState

log = structlog.get_logger(__name__)

CERTIFICATE_STATES = ("ok", "due", "overdue", "expired", "broken")
CERTIFICATE_LABELS = ("name", "common_name", "source", "team")
# The operator-chosen entry label that becomes the ``team`` metric label.
TEAM_LABEL = "team"

# Dramatiq's Redis broker keys for one queue (dramatiq/brokers/redis.py).
READY_QUEUE_KEY = f"{NAMESPACE}:{QUEUE}"
DELAYED_QUEUE_KEY = f"{NAMESPACE}:{QUEUE}.DQ"
DEAD_LETTER_KEY = f"{NAMESPACE}:{QUEUE}.XQ"


def certificate_state(
    scanned: ScannedEntry, *, now: datetime, overdue_after: timedelta
) -> str:
    """ok, due, overdue (due for longer than ``overdue_after``) or expired."""
    due = scanned.due
    if due.rule == "expired":
        return "expired"
    if not due.is_due:
        return "ok"
    if now - due.due_at > overdue_after:
        return "overdue"
    return "due"


@dataclass(frozen=True, slots=True)
class CertificateRow:
    """One certificate's labels and timestamps, as the gauges show them.

    One per certificate is kept between scans, so it holds no more than the
    gauges need (slots: about 150 bytes plus the strings).
    """

    name: str
    common_name: str
    source: str
    team: str
    expires_at: datetime
    due_at: datetime
    state: str

    @property
    def labels(self) -> list[str]:
        return [self.name, self.common_name, self.source, self.team]


@dataclass(frozen=True)
class CertificateSnapshot:
    """What the last scan saw: one row per certificate, counts per state."""

    taken_at: datetime
    rows: tuple[CertificateRow, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)


class SnapshotBuilder:
    """Builds the certificate snapshot one entry at a time, as the scan streams."""

    def __init__(self, *, now: datetime, overdue_after: timedelta) -> None:
        self.now = now
        self.overdue_after = overdue_after
        self._rows: list[CertificateRow] = []

    def add(self, scanned: ScannedEntry) -> None:
        entry = scanned.entry
        self._rows.append(
            CertificateRow(
                name=entry.name,
                common_name=entry.facts.common_name or "",
                source=entry.source,
                team=entry.labels.get(TEAM_LABEL, ""),
                expires_at=entry.facts.not_after,
                due_at=scanned.due.due_at,
                state=certificate_state(
                    scanned, now=self.now, overdue_after=self.overdue_after
                ),
            )
        )

    def snapshot(self, problems: Sequence[Problem]) -> CertificateSnapshot:
        """The snapshot of every entry added; problems count as broken."""
        counts = dict.fromkeys(CERTIFICATE_STATES, 0)
        counts.update(Counter(row.state for row in self._rows))
        counts["broken"] = len(problems)
        return CertificateSnapshot(
            taken_at=self.now, rows=tuple(self._rows), counts=counts
        )


def snapshot_from_scan(
    entries: Iterable[ScannedEntry],
    problems: Sequence[Problem],
    *,
    now: datetime,
    overdue_after: timedelta,
) -> CertificateSnapshot:
    """The certificate gauges' values after one scan (problems count as broken)."""
    builder = SnapshotBuilder(now=now, overdue_after=overdue_after)
    for scanned in entries:
        builder.add(scanned)
    return builder.snapshot(problems)


@dataclass(frozen=True)
class RenewalFacts:
    """The ledger's view of renewals at one moment (gauges and the status page)."""

    in_flight: dict[str, int]
    dead_letters: int
    pending_oldest_seconds: float
    pending_overdue: int


def renewal_facts(
    counts: dict[str, int], pending: PendingOrders, *, now: datetime
) -> RenewalFacts:
    """Pure: counts per ledger state and the orders waiting, read at ``now``."""
    oldest = pending.oldest_submitted_at
    return RenewalFacts(
        in_flight={
            state.value: counts.get(state.value, 0) for state in IN_FLIGHT_STATES
        },
        dead_letters=counts.get(RenewalState.FAILED.value, 0),
        pending_oldest_seconds=0.0
        if oldest is None
        else (now - oldest).total_seconds(),
        pending_overdue=pending.overdue,
    )


def read_renewal_facts(runtime: Runtime, *, now: datetime) -> RenewalFacts:
    """One ZCARD per state, and the submitted-since index: no record is read."""
    deadline = timedelta(days=runtime.settings.policy.pending_deadline_days)
    return renewal_facts(
        runtime.ledger.counts(),
        runtime.ledger.pending_orders(overdue_before=now - deadline),
        now=now,
    )


def read_queue_depths(client: redis.Redis) -> dict[str, int]:
    """Messages ready, delayed (not yet taken by a worker) and dead-lettered."""
    pipeline = client.pipeline(transaction=False)
    pipeline.llen(READY_QUEUE_KEY)
    pipeline.llen(DELAYED_QUEUE_KEY)
    pipeline.zcard(DEAD_LETTER_KEY)
    ready, delayed, failed = pipeline.execute()
    return {"ready": int(ready), "delayed": int(delayed), "failed": int(failed)}


class SchedulerCollector(Collector):
    """Every gauge the scheduler exposes, computed when Prometheus scrapes."""

    def __init__(self, runtime: Runtime, state: SchedulerState) -> None:
        self._runtime = runtime
        self._state = state

    def collect(self) -> Iterator[Metric]:
        yield from self._scheduler_families()
        snapshot = self._state.certificates
        if snapshot is not None:
            yield from certificate_families(snapshot)
        try:
            yield from self._redis_families(datetime.now(UTC))
        except redis.RedisError as error:
            log.warning("metrics_redis_unavailable", error=str(error))

    def _scheduler_families(self) -> Iterator[Metric]:
        with self._state.lock:
            last_scan_at = self._state.last_scan_at
            last_sync_at = self._state.last_sync_at
            scan_seconds = self._state.last_scan_seconds
            entries = self._state.last_scan_entries
            leader = self._state.is_leader
        # Never-done is 0 (the epoch): the "no scan for too long" alert fires
        # for a scheduler that never managed one, instead of seeing no series.
        yield _gauge(
            "certrenew_scan_last_success_timestamp_seconds",
            "When the last scan finished (Unix time; 0: never).",
            _timestamp(last_scan_at),
        )
        yield _gauge(
            "certrenew_sync_last_success_timestamp_seconds",
            "When the last order-status sync finished (Unix time; 0: never).",
            _timestamp(last_sync_at),
        )
        yield _gauge(
            "certrenew_scan_duration_seconds",
            "How long the last scan took.",
            scan_seconds or 0.0,
        )
        yield _gauge(
            "certrenew_scan_entries",
            "Certificates the last scan read.",
            entries,
        )
        yield _gauge(
            "certrenew_scheduler_leader",
            "1 when this scheduler leads, 0 when it stands by.",
            1 if leader else 0,
        )

    def _redis_families(self, now: datetime) -> Iterator[Metric]:
        facts = read_renewal_facts(self._runtime, now=now)
        queues = read_queue_depths(self._runtime.redis)
        rejected = self._runtime.key_rejection.current(now) is not None

        in_flight = GaugeMetricFamily(
            "certrenew_renewals_in_flight",
            "Renewals in the ledger not yet installed or failed, by state.",
            labels=["state"],
        )
        for state, count in facts.in_flight.items():
            in_flight.add_metric([state], count)
        yield in_flight
        yield _gauge(
            "certrenew_renewal_pending_oldest_seconds",
            "Age of the oldest order pending at DigiCert (0: none pending).",
            facts.pending_oldest_seconds,
        )
        yield _gauge(
            "certrenew_renewals_pending_overdue",
            "Orders pending at DigiCert past the pending deadline.",
            facts.pending_overdue,
        )
        yield _gauge(
            "certrenew_dead_letters",
            "Failed renewals waiting for an operator (the ledger's failed records).",
            facts.dead_letters,
        )
        yield install_window_family(
            self._runtime.ledger.waiting_for_install_window(now)
        )
        messages = GaugeMetricFamily(
            "certrenew_queue_messages",
            "Messages in Dramatiq's queues on Redis, by queue and state.",
            labels=["queue", "state"],
        )
        for state, count in queues.items():
            messages.add_metric([QUEUE, state], count)
        yield messages
        yield _gauge(
            "certrenew_api_key_rejected",
            "1 while CertCentral refuses the API key (API calls are paused).",
            1 if rejected else 0,
        )


def certificate_families(snapshot: CertificateSnapshot) -> Iterator[Metric]:
    expiration = GaugeMetricFamily(
        "certrenew_certificate_expiration_timestamp_seconds",
        "When the certificate expires (Unix time).",
        labels=list(CERTIFICATE_LABELS),
    )
    renewal_due = GaugeMetricFamily(
        "certrenew_certificate_renewal_due_timestamp_seconds",
        "When the certificate comes (or came) due for renewal (Unix time).",
        labels=list(CERTIFICATE_LABELS),
    )
    for row in snapshot.rows:
        expiration.add_metric(row.labels, row.expires_at.timestamp())
        renewal_due.add_metric(row.labels, row.due_at.timestamp())
    yield expiration
    yield renewal_due

    by_state = GaugeMetricFamily(
        "certrenew_certificates",
        "Certificates seen by the last scan, by state (broken: unreadable).",
        labels=["state"],
    )
    for state in CERTIFICATE_STATES:
        by_state.add_metric([state], snapshot.counts.get(state, 0))
    yield by_state


def install_window_family(waits: Iterable[InstallWait]) -> Metric:
    """When the install window of each waiting certificate opens.

    Only certificates whose renewal waits have a series, so an alert about a
    due certificate can leave them out (``unless on (name, source)``).
    """
    opens = GaugeMetricFamily(
        "certrenew_certificate_install_window_opens_timestamp_seconds",
        "When the install window opens for a certificate whose renewed "
        "certificate waits for it (Unix time).",
        labels=["name", "source"],
    )
    for wait in waits:
        opens.add_metric([wait.name, wait.source], wait.opens_at.timestamp())
    return opens


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _timestamp(moment: datetime | None) -> float:
    return 0.0 if moment is None else moment.timestamp()
