"""One run of renewals end to end against the sandbox, for rows 5-7.

Each run seeds the sandbox with issued orders and writes their certificates
as a file inventory that is due, then runs the real pipeline: ``certrenew
worker`` processes on a real redis-server, and the scheduler's side
(scan_and_enqueue, the order sync) in this process, until every renewal is
installed. The sandbox stands in for DigiCert, a remote service, so it runs
in a process of its own and counts every API call it answers
(``/admin/requests``). Timing starts once every worker process consumes the
queue: process start-up is not part of a renewal.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.redis_server import RedisServer

API_KEY = "bench-key"
EV_ORGANIZATION_ID = 112233
# No limit worth the name, for the runs that are not about limits.
UNLIMITED = 10**9
# The scheduler's sync (300 s by default) is here only for a renewal whose
# order did not issue with its answer; each sync reads the ledger's in-flight
# records, and at 4 a second this process took 5 ms of CPU per RSA renewal
# from the 2 cores the workers share (a py-spy profile: half of it in syncs).
SYNC_INTERVAL_SECONDS = 1.0
# How often the run looks whether every renewal has finished: two ZCARDs, and
# at most this much added to a run of several seconds.
FINISHED_POLL_SECONDS = 0.05
WORKER_THREADS = 4
API_KEY_VARIABLE = "CERTRENEW_CERTCENTRAL__API_KEY"
HEARTBEATS_KEY = "dramatiq:__heartbeats__"
STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0


@dataclass
class RenewalRun:
    renewals: int
    installed: int
    seconds: float
    calls: Counter[str]
    rate_limited: int
    # CPU seconds each part used during the timed run.
    cpu_seconds: dict[str, float] = field(default_factory=dict)

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
    processes: int = 1,
    threads: int = WORKER_THREADS,
    timeout_seconds: float = 600.0,
) -> RenewalRun:
    """Renew ``count`` due certificates; limits are (requests, seconds) unscaled.

    ``processes`` worker processes of ``threads`` threads each do the work.
    """
    from bench.scan import quiet_logging
    from certrenew.config import load_settings
    from sandbox import SandboxConfig
    from sandbox.config import RateLimit
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
        sandbox_process(config) as sandbox,
        tempfile.TemporaryDirectory(prefix="certrenew-bench-") as folder,
    ):
        inventory = Path(folder) / "inventory"
        inventory.mkdir()
        seed_inventory(sandbox, inventory, count)
        calls_before = _calls(sandbox.admin_url)

        config_path = Path(folder) / "certrenew.toml"
        config_path.write_text(
            settings_toml(
                base_url=sandbox.base_url,
                redis_url=redis_server.url,
                inventory=inventory,
                key=key,
                limits=limits,
                time_scale=time_scale,
            )
        )
        settings = load_settings(config_path, {API_KEY_VARIABLE: API_KEY})
        # The scheduler's side: this process claims, queues and syncs.
        runtime = start_runtime(settings)
        # A ledger in service for a day, as in steady operation: a brand-new
        # one (or one that lost its data) looks its first hour of renewals up
        # by alternative id first, one call more each (worker/renewal.py).
        runtime.redis.set(
            runtime.ledger.began_key,
            (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        )
        try:
            with worker_processes(
                config_path, Path(folder), processes=processes, threads=threads
            ) as workers:
                wait_until_consuming(runtime.redis, processes, workers)
                redis_pid = int(runtime.redis.info("server")["process_id"])
                cpu_before = _cpu_seconds(sandbox.pid, workers.pid, redis_pid)
                seconds = renew_until_finished(runtime, count, timeout_seconds)
                cpu_after = _cpu_seconds(sandbox.pid, workers.pid, redis_pid)
                installed = len(runtime.ledger.by_state("installed"))
        finally:
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
        cpu_seconds={part: cpu_after[part] - cpu_before[part] for part in cpu_after},
    )


def renew_until_finished(runtime: Any, count: int, timeout_seconds: float) -> float:
    """Queue the due renewals and sync orders until all are finished; seconds."""
    from scheduler.jobs import scan_and_enqueue, sync_orders
    from worker.ledger import RenewalState

    finished_keys = [
        runtime.ledger.state_key(RenewalState.INSTALLED),
        runtime.ledger.state_key(RenewalState.FAILED),
    ]
    started = time.perf_counter()
    scan_and_enqueue(runtime, now=datetime.now(UTC))
    deadline = time.monotonic() + timeout_seconds
    last_sync: datetime | None = None
    next_sync = time.monotonic() + SYNC_INTERVAL_SECONDS
    while time.monotonic() < deadline:
        if sum(runtime.redis.zcard(key) for key in finished_keys) >= count:
            break
        time.sleep(FINISHED_POLL_SECONDS)
        if time.monotonic() >= next_sync:
            now = datetime.now(UTC)
            sync_orders(runtime, now=now, since=last_sync)
            last_sync = now
            next_sync = time.monotonic() + SYNC_INTERVAL_SECONDS
    return time.perf_counter() - started


def settings_toml(
    *,
    base_url: str,
    redis_url: str,
    inventory: Path,
    key: str,
    limits: tuple[tuple[int, float], ...],
    time_scale: float,
) -> str:
    """The configuration file of the run (the API key goes by environment)."""
    windows = "\n".join(
        f"[[rate_limit.windows]]\nrequests = {r}\nseconds = {s / time_scale}"
        for r, s in limits
    )
    return f"""
[certcentral]
base_url = "{base_url}"

[redis]
url = "{redis_url}"

[[inventory]]
kind = "files"
path = "{inventory}"

[order]
organization_id = {EV_ORGANIZATION_ID}
key = "{key}"

[policy]
# No spreading: every renewal may go at once.
spread_hours = 0

[scheduler]
http_port = 0

[worker]
metrics_port = 0

[rate_limit]
# The delays this allowance absorbs (threads, the network) happen on this
# machine in real time, which the time scale does not shrink: the default.
latency_allowance_seconds = 0.25

{windows}

[logging]
format = "json"
level = "info"
"""


@dataclass(frozen=True)
class SandboxProcess:
    base_url: str
    admin_url: str
    pid: int


def serve_sandbox(config: Any, connection: Connection) -> None:
    """A sandbox process: send its addresses, serve until told to stop."""
    from sandbox import SandboxServer

    server = SandboxServer(config, host="127.0.0.1", port=0)
    server.start()
    connection.send((server.base_url, server.admin_url))
    connection.recv()
    server.stop()


@contextmanager
def sandbox_process(config: Any) -> Iterator[SandboxProcess]:
    """The sandbox in a process of its own, as DigiCert is a remote service."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=serve_sandbox, args=(config, theirs))
    process.start()
    try:
        if not ours.poll(STARTUP_TIMEOUT_SECONDS):
            raise AssertionError("the sandbox process did not start")
        base_url, admin_url = ours.recv()
        assert process.pid is not None
        yield SandboxProcess(base_url, admin_url, process.pid)
        ours.send("stop")
        process.join(STOP_TIMEOUT_SECONDS)
    finally:
        if process.is_alive():
            process.kill()
            process.join()


@contextmanager
def worker_processes(
    config_path: Path, log_dir: Path, *, processes: int, threads: int
) -> Iterator[subprocess.Popen[bytes]]:
    """``certrenew worker --processes N --threads T`` until the block ends."""
    environment = {**os.environ, API_KEY_VARIABLE: API_KEY, "PYTHONUNBUFFERED": "1"}
    environment.pop("CERTRENEW_CONFIG", None)
    arguments = [
        sys.executable, "-m", "certrenew", "worker", "--config", str(config_path),
        "--processes", str(processes), "--threads", str(threads),
    ]  # fmt: skip
    with (log_dir / "worker.log").open("wb") as log:
        workers = subprocess.Popen(
            arguments,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
    try:
        yield workers
        workers.send_signal(signal.SIGTERM)
        workers.wait(STOP_TIMEOUT_SECONDS)
    finally:
        if workers.poll() is None:
            os.killpg(workers.pid, signal.SIGKILL)
            workers.wait()


def wait_until_consuming(
    client: Any, processes: int, workers: subprocess.Popen[bytes]
) -> None:
    """Until every worker process has fetched from the queue once.

    Each worker process's broker beats its heart in Dramatiq's set with every
    fetch (dramatiq/brokers/redis/dispatch.lua); this process sent nothing yet.
    """
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while client.zcard(HEARTBEATS_KEY) < processes:
        if workers.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(
                f"{processes} worker processes did not start (exit {workers.poll()})"
            )
        time.sleep(0.05)


def _cpu_seconds(
    sandbox_pid: int, workers_pid: int, redis_pid: int
) -> dict[str, float]:
    """CPU time so far of each part of the run: the workers (all of them), the
    sandbox, redis-server and this process (the scheduler's side)."""
    return {
        "workers": _process_tree_cpu_seconds(workers_pid),
        "sandbox": _process_tree_cpu_seconds(sandbox_pid),
        "redis-server": _process_tree_cpu_seconds(redis_pid),
        "scheduler (this process)": _process_tree_cpu_seconds(os.getpid(), tree=False),
    }


def _process_tree_cpu_seconds(pid: int, *, tree: bool = True) -> float:
    """User and system CPU of a process and, with ``tree``, its descendants."""
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name is in brackets and may hold spaces: split after it.
        fields = text[text.rindex(")") + 2 :].split()
        process = int(stat.parent.name)
        parents[process] = int(fields[1])
        ticks[process] = int(fields[11]) + int(fields[12])
    members = {pid}
    if tree:
        grew = True
        while grew:
            more = {p for p, parent in parents.items() if parent in members}
            grew = not more <= members
            members |= more
    return sum(ticks.get(member, 0) for member in members) / ticks_per_second


def _calls(admin_url: str) -> tuple[Counter[str], int]:
    answer = httpx.get(f"{admin_url}/requests", timeout=30).json()
    calls: Counter[str] = Counter()
    for row in answer["requests"]:
        calls[str(row["route"])] += int(row["count"])
    return calls, int(answer["rate_limited"])
