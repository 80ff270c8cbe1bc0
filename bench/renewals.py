"""Renewals end to end against the sandbox: API calls, rate limits, speed.

Each run seeds the sandbox with issued orders and writes their certificates
as a file inventory that is due, then runs the real pipeline in this process
(scan_and_enqueue, a Dramatiq worker with threads on a real redis-server, the
scheduler's order sync) until every renewal is installed. The sandbox counts
every API call it answers (``/admin/requests``).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from bench.common import Result, Spread, seconds_text, speed_ratios
from tests.support.redis_server import RedisServer

API_KEY = "bench-key"
EV_ORGANIZATION_ID = 112233
# No limit worth the name, for the runs that are not about limits.
UNLIMITED = 10**9
SYNC_INTERVAL_SECONDS = 0.25
WORKER_THREADS = 4


@dataclass
class RenewalRun:
    renewals: int
    installed: int
    seconds: float
    calls: Counter[str]
    rate_limited: int

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def seed_inventory(sandbox: Any, folder: Path, count: int) -> None:
    """Issued orders at the sandbox and their files, due in ten days.

    Like tests/support/seeding.py, with one HTTP client for all of them.
    """
    from cryptography.hazmat.primitives import serialization

    now = datetime.now(UTC)
    with httpx.Client(base_url=sandbox.admin_url, timeout=30) as admin:
        for number in range(count):
            key = ec.generate_private_key(ec.SECP256R1())
            name = f"host{number}.bench.example"
            csr = (
                x509.CertificateSigningRequestBuilder()
                .subject_name(
                    x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
                )
                .sign(key, hashes.SHA256())
            )
            answer = admin.post(
                "/orders",
                json={
                    "common_name": name,
                    "dns_names": [],
                    "csr": csr.public_bytes(serialization.Encoding.PEM).decode(),
                    "organization_id": EV_ORGANIZATION_ID,
                    "valid_from": (now - timedelta(days=355)).isoformat(),
                    "valid_till": (now + timedelta(days=10)).isoformat(),
                },
            )
            answer.raise_for_status()
            pem_all = answer.json()["pem_all"].replace("\r\n", "\n")
            (folder / f"host{number}.crt").write_text(pem_all)
            key_path = folder / f"host{number}.key"
            key_path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            key_path.chmod(0o600)


def run_renewals(
    count: int,
    *,
    key: str = "ec-p256",
    limits: tuple[tuple[int, float], ...] = ((UNLIMITED, 1.0),),
    time_scale: float = 1.0,
    timeout_seconds: float = 600.0,
) -> RenewalRun:
    """Renew ``count`` due certificates; limits are (requests, seconds) unscaled."""
    import dramatiq
    from dramatiq import Worker

    from bench.scan import quiet_logging
    from certrenew.config import (
        CertCentralSettings,
        FileSourceSettings,
        OrderSettings,
        PolicySettings,
        RateLimitSettings,
        RateWindow,
        RedisSettings,
        SchedulerSettings,
        Settings,
    )
    from sandbox import SandboxConfig
    from sandbox.config import RateLimit
    from scheduler.jobs import scan_and_enqueue, sync_orders
    from tests.support.sandbox import running_sandbox
    from worker.bootstrap import start_runtime

    quiet_logging()
    config = SandboxConfig(
        api_keys=(API_KEY,),
        admin=True,
        seed=1,
        rate_limits=tuple(RateLimit(r, s) for r, s in limits),
        time_scale=time_scale,
    )
    redis_server = RedisServer()
    redis_server.start()
    with (
        running_sandbox(config) as sandbox,
        tempfile.TemporaryDirectory(prefix="certrenew-bench-") as folder,
    ):
        seed_inventory(sandbox, Path(folder), count)
        calls_before = _calls(sandbox.admin_url)

        settings = Settings(
            certcentral=CertCentralSettings(
                base_url=sandbox.base_url, api_key=SecretStr(API_KEY)
            ),
            redis=RedisSettings(url=redis_server.url),
            inventory=[FileSourceSettings(path=Path(folder))],
            order=OrderSettings(organization_id=EV_ORGANIZATION_ID, key=key),  # type: ignore[arg-type]
            # No spreading: every renewal may go at once.
            policy=PolicySettings(spread_hours=0),
            scheduler=SchedulerSettings(http_port=0),
            rate_limit=RateLimitSettings(
                windows=[
                    RateWindow(requests=r, seconds=s / time_scale) for r, s in limits
                ],
                # Scaled like the windows, so the figure speaks of real time.
                latency_allowance_seconds=0.25 / time_scale,
            ),
        )
        runtime = start_runtime(settings)
        # A ledger in service for a day, as in steady operation: a brand-new
        # one (or one that lost its data) looks its first hour of renewals up
        # by alternative id first, one call more each (worker/renewal.py).
        runtime.redis.set(
            runtime.ledger.began_key,
            (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        )
        worker = Worker(dramatiq.get_broker(), worker_threads=WORKER_THREADS)
        started = time.perf_counter()
        worker.start()
        try:
            scan_and_enqueue(runtime, now=datetime.now(UTC))
            deadline = time.monotonic() + timeout_seconds
            last_sync: datetime | None = None
            while time.monotonic() < deadline and runtime.ledger.in_flight():
                time.sleep(SYNC_INTERVAL_SECONDS)
                now = datetime.now(UTC)
                sync_orders(runtime, now=now, since=last_sync)
                last_sync = now
            seconds = time.perf_counter() - started
            installed = len(runtime.ledger.by_state("installed"))
        finally:
            worker.stop()
            runtime.close()
            redis_server.stop()

        calls_after = _calls(sandbox.admin_url)
    calls = calls_after[0] - calls_before[0]
    return RenewalRun(
        renewals=count,
        installed=installed,
        seconds=seconds,
        calls=calls,
        rate_limited=calls_after[1] - calls_before[1],
    )


def _calls(admin_url: str) -> tuple[Counter[str], int]:
    answer = httpx.get(f"{admin_url}/requests", timeout=30).json()
    calls: Counter[str] = Counter()
    for row in answer["requests"]:
        calls[str(row["route"])] += int(row["count"])
    return calls, int(answer["rate_limited"])


def minimum_seconds(
    calls: int, limits: tuple[tuple[int, float], ...], scale: float
) -> float:
    """The fastest any client could make ``calls`` calls under rolling limits.

    Under a sliding window of R requests per W seconds, call number k (from 0)
    can go no earlier than (k // R) * W; the last call decides.
    """
    return max(
        (calls - 1) // requests * seconds / scale for requests, seconds in limits
    )


def bench_api_calls(count: int) -> list[Result]:
    run = run_renewals(count)
    per_renewal = run.total_calls / count
    breakdown = ", ".join(
        f"{route}: {number / count:.2f}" for route, number in run.calls.most_common()
    )
    return [
        Result(
            benchmark="5. API calls per renewal",
            figure="API calls ÷ renewals, counted at the sandbox",
            baseline="none (an absolute count)",
            ratio=Spread(per_renewal, per_renewal, per_renewal),
            aim="≤ 2.1",
            met=per_renewal <= 2.1 and run.installed == count,
            size=f"{count:,} EV renewals, no rate limit, {WORKER_THREADS} threads",
            absolute={
                "installed": f"{run.installed:,} of {count:,}",
                "calls": f"{run.total_calls:,}",
                "per renewal by route": breakdown,
            },
        )
    ]


def bench_rate_limited(count: int, time_scale: float) -> list[Result]:
    from sandbox.config import SandboxConfig

    limits = tuple(
        (limit.requests, limit.window_seconds) for limit in SandboxConfig().rate_limits
    )
    run = run_renewals(count, limits=limits, time_scale=time_scale)
    fastest = minimum_seconds(run.total_calls, limits, time_scale)
    # Calls that fit in one window of every limit could all go at once.
    ratio = run.seconds / fastest if fastest > 0 else math.inf
    windows = ", ".join(f"{r}/{s:g} s" for r, s in limits)
    return [
        Result(
            benchmark="6. renewals under the real rolling limits",
            figure="time taken ÷ (calls needed ÷ the limit)",
            baseline="the fastest any client could make the same calls",
            ratio=Spread(ratio, ratio, ratio),
            aim="≤ 1.15 and zero 429s",
            met=ratio <= 1.15 and run.rate_limited == 0 and run.installed == count,
            size=(
                f"{count:,} renewals, limits {windows} scaled down {time_scale:g}x "
                "(sandbox and certrenew's RateBudget alike)"
            ),
            absolute={
                "time taken": f"{run.seconds:.2f} s",
                "minimum": f"{fastest:.2f} s for {run.total_calls:,} calls",
                "429 answers": str(run.rate_limited),
                "installed": f"{run.installed:,} of {count:,}",
            },
        )
    ]


def keys_and_csrs(count: int, key: str) -> None:
    """The bare loop: a key and a CSR for each renewal, nothing else."""
    for number in range(count):
        private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
        if key == "rsa-2048":
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            private_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, f"host{number}.bench.example")]
        )
        x509.CertificateSigningRequestBuilder().subject_name(name).sign(
            private_key, hashes.SHA256()
        )


def bench_speed(count: int, key: str, repeats: int) -> list[Result]:
    bare_seconds, renewal_seconds = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        keys_and_csrs(count, key)
        bare_seconds.append(time.perf_counter() - started)
        run = run_renewals(count, key=key)
        assert run.installed == count, f"{run.installed} of {count} installed"
        renewal_seconds.append(run.seconds)
    ratio = speed_ratios(bare_seconds, renewal_seconds)
    return [
        Result(
            benchmark=f"7. renewals per second, {key}",
            figure="renewal speed ÷ bare key+CSR loop speed",
            baseline="the same number of keys and CSRs in a bare loop, one process",
            ratio=ratio,
            aim="≥ 0.7",
            met=ratio.median >= 0.7,
            size=(
                f"{count:,} renewals, {repeats} runs, one process with "
                f"{WORKER_THREADS} worker threads; the sandbox runs in the same process"
            ),
            absolute={
                "bare loop": seconds_text(bare_seconds),
                "renewals": seconds_text(renewal_seconds),
                "renewals per second": (
                    f"{count / Spread.of(renewal_seconds).median:.1f}"
                ),
            },
        )
    ]
