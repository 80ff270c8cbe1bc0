"""The scheduler process: APScheduler running the two jobs while it leads.

Only one scheduler acts at a time. Every instance runs the jobs on its timer,
but a job does nothing unless this instance holds the leader lock in Redis; a
standby takes over within one lease when the leader dies. SIGTERM lets the
running job finish, releases the lock and exits 0.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from scheduler.http import StatusServer
from scheduler.jobs import ScanOutcome, scan_and_enqueue, sync_orders
from scheduler.lock import LeaderElection, LeaderLock
from scheduler.metrics import CertificateSnapshot, SnapshotBuilder
from worker.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass
class SchedulerState:
    """What the status page and the metrics read about this scheduler."""

    last_scan_at: datetime | None = None
    last_sync_at: datetime | None = None
    last_scan_seconds: float | None = None
    last_scan_entries: int = 0
    is_leader: bool = False
    # The last scan's entries and verdicts, and the certificate gauges from them.
    last_scan: ScanOutcome | None = None
    certificates: CertificateSnapshot | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class SchedulerService:
    def __init__(self, runtime: Runtime, *, holder: str | None = None) -> None:
        self.runtime = runtime
        self.state = SchedulerState()
        settings = runtime.settings.scheduler
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        lock = LeaderLock(
            runtime.redis, holder=self.holder, lease_seconds=settings.lock_lease_seconds
        )
        self.election = LeaderElection(
            lock, on_elected=self._on_elected, on_demoted=self._on_demoted
        )
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.scheduler.add_job(
            self.scan,
            "interval",
            seconds=settings.scan_interval_seconds,
            id="scan",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self.sync,
            "interval",
            seconds=settings.sync_interval_seconds,
            id="sync",
            max_instances=1,
            coalesce=True,
        )
        self.http = StatusServer(
            runtime,
            self.state,
            holder=self.holder,
            host=settings.http_host,
            port=settings.http_port,
        )

    def start(self) -> None:
        self.http.start()
        self.scheduler.start()
        self.election.start()
        log.info("scheduler_started", holder=self.holder)

    def stop(self) -> None:
        """Finish the running job, then give up the lead."""
        self.scheduler.shutdown(wait=True)
        self.election.stop()
        self.http.stop()
        log.info("scheduler_stopped")

    def scan(self) -> None:
        if not self.election.is_leader:
            return
        started = datetime.now(UTC)
        overdue_after = timedelta(
            days=self.runtime.settings.policy.pending_deadline_days
        )
        rows = SnapshotBuilder(now=started, overdue_after=overdue_after)
        outcome = scan_and_enqueue(self.runtime, now=started, on_entry=rows.add)
        certificates = rows.snapshot(outcome.problems)
        finished = datetime.now(UTC)
        with self.state.lock:
            self.state.last_scan_at = finished
            self.state.last_scan_seconds = (finished - started).total_seconds()
            self.state.last_scan_entries = outcome.scanned
            self.state.last_scan = outcome
            self.state.certificates = certificates

    def sync(self) -> None:
        if not self.election.is_leader:
            return
        now = datetime.now(UTC)
        sync_orders(self.runtime, now=now, since=self.state.last_sync_at)
        with self.state.lock:
            self.state.last_sync_at = now

    def _on_elected(self) -> None:
        with self.state.lock:
            self.state.is_leader = True
        log.info("scheduler_leading")
        # Act at once instead of waiting a whole interval after a takeover.
        for job_id in ("scan", "sync"):
            self.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    def _on_demoted(self) -> None:
        with self.state.lock:
            self.state.is_leader = False
        log.warning("scheduler_standby")


def run_until_signalled(service: SchedulerService) -> int:
    """Run the service until SIGTERM or SIGINT; exit status 0 on a clean stop."""
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("stop_requested", signal=signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    service.start()
    stopping.wait()
    service.stop()
    return 0
