"""The demo run behind `certrenew demo`: sandbox, sample inventory, pipeline.

This module is glue, like ``certrenew/commands``: it is the one place outside
the tests that starts the sandbox and the pipeline side by side.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from certrenew.config import (
    CertCentralSettings,
    FileSourceSettings,
    SchedulerSettings,
    Settings,
)
from certrenew.samples import SampleInventory, make_sample_inventory

EV_ORGANIZATION_ID = 112233
# The sandbox's second organization: its EV validation is still under way, so
# renewals for it wait as `pending` until the sandbox validates it.
PENDING_ORGANIZATION_ID = 445566
PENDING_DELAY_SECONDS = 4.0


class SandboxSigner:
    """Has the sandbox issue the sample certificates, as DigiCert once did.

    Each certificate becomes an issued order there, so that renewing it is a
    real renewal of a real order. Names that start with ``plan.`` get a
    three-year Multi-year Plan (their renewal is a free reissue); names that
    start with ``neworg.`` belong to the organization still being validated.
    """

    def __init__(self, admin_url: str) -> None:
        self._admin = httpx.Client(base_url=admin_url, timeout=30)

    def __call__(
        self,
        csr_pem: bytes,
        common_name: str,
        dns_names: list[str],
        not_before: datetime,
        not_after: datetime,
    ) -> bytes:
        body: dict[str, Any] = {
            "product": "ssl_ev_securesite_flex",
            "common_name": common_name,
            "dns_names": [name for name in dns_names if name != common_name],
            "csr": csr_pem.decode(),
            "organization_id": EV_ORGANIZATION_ID,
            "valid_from": not_before.isoformat(),
            "valid_till": not_after.isoformat(),
        }
        if common_name.startswith("plan."):
            body["order_valid_till"] = (
                not_before + timedelta(days=3 * 365)
            ).isoformat()
        if common_name.startswith("neworg."):
            body["organization_id"] = PENDING_ORGANIZATION_ID
        response = self._admin.post("/orders", json=body)
        response.raise_for_status()
        pem_all: str = response.json()["pem_all"]
        return pem_all.replace("\r\n", "\n").encode()

    def close(self) -> None:
        self._admin.close()


@dataclass
class DemoRow:
    name: str
    action: str
    order_id: int | None
    old_expiry: datetime
    new_expiry: datetime | None
    result: str


@dataclass
class DemoOutcome:
    folder: Path
    rows: list[DemoRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    not_due: int = 0

    @property
    def all_finished(self) -> bool:
        return all(row.result == "installed" for row in self.rows)

    def print_summary(self, *, elapsed_seconds: float) -> None:
        console = Console()
        table = Table(title="certrenew demo: renewals")
        for column in (
            "certificate",
            "action",
            "order",
            "old expiry",
            "new expiry",
            "result",
        ):
            table.add_column(column)
        for row in self.rows:
            table.add_row(
                row.name,
                row.action,
                str(row.order_id or "-"),
                f"{row.old_expiry:%Y-%m-%d}",
                f"{row.new_expiry:%Y-%m-%d}" if row.new_expiry else "-",
                row.result,
            )
        console.print(table)
        console.print(f"{self.not_due} certificates were not due and were left alone.")
        for problem in self.problems:
            console.print(
                f"[yellow]skipped broken file[/yellow] {problem}", soft_wrap=True
            )
        console.print(
            f"Renewed inventory (certificates, keys and the previous pairs): "
            f"[bold]{self.folder}[/bold]  ({elapsed_seconds:.1f} s)",
            soft_wrap=True,
        )


class DemoRun:
    def __init__(self, folder: Path, *, api_key: str) -> None:
        self.folder = folder
        self.api_key = api_key
        self.sample: SampleInventory | None = None

    def __enter__(self) -> DemoRun:
        from certrenew.config import LoggingSettings
        from certrenew.logs import configure_logging
        from sandbox import SandboxConfig, SandboxServer

        # The demo's story is its summary table; the log would drown it.
        configure_logging(LoggingSettings(level="error"), process="demo")
        self.sandbox = SandboxServer(
            SandboxConfig(
                api_keys=(self.api_key,),
                admin=True,
                pending_delay_seconds=PENDING_DELAY_SECONDS,
            ),
            host="127.0.0.1",
            port=0,
        )
        self.sandbox.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.sandbox.stop()

    def make_inventory(self, *, now: datetime) -> None:
        signer = SandboxSigner(self.sandbox.admin_url)
        try:
            self.sample = make_sample_inventory(self.folder, now, signer=signer)
        finally:
            signer.close()

    def settings(self) -> Settings:
        return Settings(
            certcentral=CertCentralSettings(
                base_url=self.sandbox.base_url, api_key=SecretStr(self.api_key)
            ),
            inventory=[FileSourceSettings(path=self.folder)],
            scheduler=SchedulerSettings(
                scan_interval_seconds=3600, sync_interval_seconds=1, http_port=0
            ),
        )

    def renew_due(self, *, timeout_seconds: float) -> DemoOutcome:
        import dramatiq
        from dramatiq import Worker

        from scheduler.jobs import scan_and_enqueue, sync_orders
        from scheduler.scan import scan_sources
        from worker.bootstrap import start_runtime

        runtime = start_runtime(self.settings())
        before = scan_sources(runtime.sources.values(), datetime.now(UTC))
        old_expiry = {
            item.entry.name: item.entry.facts.not_after for item in before.entries
        }
        worker = Worker(dramatiq.get_broker(), worker_threads=4)
        worker.start()
        try:
            scan = scan_and_enqueue(runtime, now=datetime.now(UTC))
            deadline = time.monotonic() + timeout_seconds
            last_sync: datetime | None = None
            while time.monotonic() < deadline and runtime.ledger.in_flight():
                time.sleep(0.5)
                now = datetime.now(UTC)
                sync_orders(runtime, now=now, since=last_sync)
                last_sync = now
        finally:
            worker.stop()
            runtime.close()
        return self._outcome(
            runtime, scan.problems, scan.scanned - scan.due, old_expiry
        )

    def _outcome(
        self,
        runtime: Any,
        problems: list[Any],
        not_due: int,
        old_expiry: dict[str, datetime],
    ) -> DemoOutcome:
        outcome = DemoOutcome(folder=self.folder, not_due=not_due)
        outcome.problems = [f"{p.location}: {p.error}" for p in problems]
        records = runtime.ledger.by_state("installed") + runtime.ledger.failed()
        records += runtime.ledger.in_flight()
        for record in sorted(records, key=lambda r: r.name):
            outcome.rows.append(
                DemoRow(
                    name=record.name,
                    action=record.action or "-",
                    order_id=record.order_id,
                    old_expiry=old_expiry[record.name],
                    new_expiry=record.new_not_after,
                    result=record.state
                    if record.state != "failed"
                    else f"failed: {record.failure_message}",
                )
            )
        return outcome
