"""Renewals end to end against the sandbox: API calls, rate limits, speed.

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

import math
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
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from bench.common import Result, Spread, seconds_text, speed_ratios
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
# Batches of the bare loop per process.
BATCHES_PER_PROCESS = 8
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


def fastest_schedule(
    calls: int, limits: tuple[tuple[int, float], ...], scale: float
) -> list[float]:
    """When each of ``calls`` calls goes, at the fastest rolling limits allow.

    The sandbox keeps a sliding log per window: a call made at t frees its
    place at t + W. Each call therefore goes at once where every window has
    room, or the moment its window's oldest call leaves it: call k no sooner
    than call k - R of that window plus W. Going as early as allowed never
    delays a later call, so no client can finish sooner. All windows count
    at once: a burst that the long window allows still waits on the short one.
    """
    windows = [(requests, seconds / scale) for requests, seconds in limits]
    times: list[float] = []
    for number in range(calls):
        earliest = times[-1] if times else 0.0
        for requests, seconds in windows:
            if number >= requests:
                earliest = max(earliest, times[number - requests] + seconds)
        times.append(earliest)
    return times


def minimum_seconds(
    calls: int, limits: tuple[tuple[int, float], ...], scale: float
) -> float:
    """The fastest any client could make ``calls`` calls: its last call."""
    schedule = fastest_schedule(calls, limits, scale)
    return schedule[-1] if schedule else 0.0


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
            size=(
                f"{count:,} EV renewals, no rate limit, one worker process of "
                f"{WORKER_THREADS} threads"
            ),
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
    # The plain reading of "calls needed ÷ the limit": the tightest limit's
    # average rate. Looser than the schedule, which spends the first burst.
    average = max(run.total_calls / r * s / time_scale for r, s in limits)
    windows = ", ".join(f"{r}/{s:g} s" for r, s in limits)
    return [
        Result(
            benchmark="6. renewals under the real rolling limits",
            figure="time taken ÷ the fastest the limits allow",
            baseline=(
                "the fastest any client could make the same calls: each at "
                "once, or when every window has room (bench/renewals.py, "
                "fastest_schedule)"
            ),
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
                "calls needed ÷ the limit": (
                    f"{average:.2f} s (ratio {run.seconds / average:.3g})"
                ),
                "429 answers": str(run.rate_limited),
                "installed": f"{run.installed:,} of {count:,}",
            },
            notes=[
                "Before (the budget kept 5% of every window in reserve): "
                "2,000 renewals took 123.2 s, 1.26 of the minimum, since 4,000 "
                "calls at 950 a window need a fifth long window where 1,000 a "
                "window need four. The reserve is now `[rate_limit] "
                "reserve_fraction`, 0 by default. The latency allowance "
                "(0.25 s on every window) is not scaled with the limits: the "
                "delays it absorbs are this machine's, in real time. Scaled "
                "down with them (0.04 s), one run of this row met two 429s; "
                "unscaled, it costs the scaled windows about 1% each (0.14% "
                "of DigiCert's real 3 minutes).",
                "The minimum was first a bound per window (90 s for these "
                "4,000 calls, the long window's alone), which missed that the "
                "short window still paces each burst the long one allows: "
                "the run of 2026-12-03 20:21 took 104.7 s, 1.16 of that bound "
                "and 1.07 of the schedule's 97.5 s.",
            ],
        )
    ]


def keys_and_csrs(numbers: range, key: str) -> None:
    """The bare loop: a key and a CSR for each renewal, nothing else."""
    for number in numbers:
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


def bare_loop_seconds(count: int, key: str, processes: int) -> float:
    """The bare loop over ``count`` keys, spread over ``processes`` processes.

    The processes are started, and have made a key each, before the clock
    starts: the renewals' worker processes are running before theirs does.
    Small batches spread the work the way the queue spreads renewals.
    """
    batch = max(1, count // (processes * BATCHES_PER_PROCESS))
    batches = [
        (range(start, min(start + batch, count)), key)
        for start in range(0, count, batch)
    ]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.starmap(_warm_up, [(key,)] * processes, chunksize=1)
        started = time.perf_counter()
        pool.starmap(keys_and_csrs, batches, chunksize=1)
        return time.perf_counter() - started


def _warm_up(key: str) -> None:
    keys_and_csrs(range(1), key)
    # Long enough that every process of the pool takes one.
    time.sleep(0.2)


def bench_speed(count: int, key: str, repeats: int, processes: int) -> list[Result]:
    bare_seconds, renewal_seconds = [], []
    runs = []
    for _ in range(repeats):
        bare_seconds.append(bare_loop_seconds(count, key, processes))
        run = run_renewals(count, key=key, processes=processes)
        assert run.installed == count, f"{run.installed} of {count} installed"
        renewal_seconds.append(run.seconds)
        runs.append(run)
    ratio = speed_ratios(bare_seconds, renewal_seconds)
    return [
        Result(
            benchmark=f"7. renewals per second, {key}",
            figure="renewal speed ÷ bare key+CSR loop speed",
            baseline=(
                f"the same number of keys and CSRs in a bare loop, {processes} "
                "processes"
            ),
            ratio=ratio,
            aim="≥ 0.7",
            met=ratio.median >= 0.7,
            size=(
                f"{count:,} renewals, {repeats} runs, {processes} worker processes "
                f"of {WORKER_THREADS} threads; the sandbox in its own process"
            ),
            absolute={
                "bare loop": seconds_text(bare_seconds),
                "renewals (enqueue to all installed)": seconds_text(renewal_seconds),
                "renewals per second": (
                    f"{count / Spread.of(renewal_seconds).median:.1f}"
                ),
                "CPU per renewal, median run": cpu_breakdown(runs, count),
            },
            notes=SPEED_NOTES[key],
        )
    ]


# Where a renewal's time goes, and what changed (measured on the 2-core machine
# of RESULTS.md; py-spy --gil over 1,500 EC renewals, 2 processes of 4 threads).
_WHERE_THE_TIME_GOES = [
    "Where a renewal's time goes: besides its key and CSR, each renewal makes 2 "
    "API calls (order info, then the order, whose answer carries the chain), "
    "about 13 Redis round trips (renewal lock 2, ledger 5, rate budget 2, "
    "Dramatiq fetch and ack about 2), 10 fsyncs (pending key before the CSR "
    "leaves, previous copies, the atomic install; DESIGN.md) and 11 JSON log "
    "lines (about 55 µs each before the change below, 0.6 ms a renewal; "
    "measured alone). A worker "
    "spends about 13 ms of CPU per EC renewal, most of it in the Redis "
    "client, httpx, Dramatiq and certrenew's own checks and file writes; the "
    "key and CSR are about 3% (a py-spy profile that counted waiting threads "
    "too, so its shares are rough). "
    "The sandbox, redis-server and the scheduler add about 4 ms more on the "
    "same 2 cores (the CPU line above).",
    "Before (same bench, commit 6a26ab6): EC 0.00504 (300 renewals 3.73 s, "
    "80/s; bare loop 0.035 s), RSA 0.272 (40 renewals 3.87 s; bare loop "
    "0.93 s; workers 138.5 ms of CPU per RSA renewal). Fixed since: a new "
    "pending key is used as made instead of being read back from its PEM "
    "twice (for RSA, loading checks the key, 34 ms each, as long as making "
    "it): workers' CPU per RSA renewal 138 -> 65 ms; installs prune expired "
    "ledger records once an hour rather than after every install (one round "
    "trip less); the log scrubber remembers which keys are secret.",
    "Redis, before -> after (from commit 96a30f4): worker commands per EC "
    "renewal 19.8 -> 14.9 (redis-cli MONITOR over 200 renewals, script-"
    "internal calls left out), round trips about 20 -> 13: the rejected-key "
    "breaker's 4 (2 per API call) are gone while a look found no rejection in "
    "the last second; the ledger's start and the step's record come with the "
    "attempt count (2 -> 0); submitted and issued go in one round trip; the "
    "renewal lock has one keeper thread per process instead of one per step. "
    "Worker CPU per renewal moved less than the noise: EC 13.5 -> 13.4 and "
    "13.0 ms, RSA 67 -> 62.5 and 66.5 ms; row 7 EC 0.0056 -> 0.0042 and "
    "0.0054, RSA 0.60 -> 0.40 and 0.69 (before: 3 runs; after: 3 runs, then "
    "5; the spread of one run set covers all of these).",
    "Then (commits 'Scan: a renewal due now...', 'Worker: refuse to start...', "
    "'Logs: the registered secrets...'): a renewal due now is queued ready "
    "instead of through Dramatiq's delay queue with a delay of 0, which cost "
    "a worker a fetch, a send and an ack before it could run; each worker "
    "process builds its HTTP client at boot (httpx's transport and the TLS "
    "context had loaded inside the first renewals, about 0.3 s a process); "
    "the log scrubber sorts the secrets once (a log line 48 -> 40 µs). RSA "
    "after them, 3 runs each: 0.70 and 0.66 at 100 renewals, 0.69 at 200, "
    "now the default (at 40, the earlier default, one run set spread over "
    "0.40-0.69, and the last full run gave 0.55).",
    "Then (commits 'Redis: hiredis...', 'Logs: certrenew's own lines...'), "
    "after a py-spy --gil profile of a worker over 4,000 EC renewals had "
    "Redis calls at about 24% of its Python time (parsing replies 10%) and "
    "log lines at 14%: "
    "redis-py parses replies with hiredis (three round trips of ledger-sized "
    "replies 580 -> 360 µs of CPU), and certrenew's own lines go from "
    "structlog straight to the stream instead of through the standard "
    "library's record, handler and formatter (a line 120 -> 62 µs). Both "
    "measured alone, on a machine about 1.5-2x slower than the one of the "
    "figures above (its full run on commit fda5c7a: EC 0.0066, RSA 0.60, "
    "workers 30.7 and 86.1 ms of CPU per renewal). After them, the run on "
    "commit b07a0d6: EC 0.0093 (workers 14.4 ms a renewal), RSA 0.62 "
    "(0.57-0.74). Then this bench's own process syncs once a second, not "
    "four times, and looks for the end every 50 ms, not 20: its CPU per RSA "
    "renewal 5.4 -> 1.8 ms, redis-server's 2.7 -> 2.0 (production syncs "
    "every 300 s); the speed rows alone then gave RSA 0.70 (0.57-0.71).",
]
SPEED_NOTES = {
    "ec-p256": [
        *_WHERE_THE_TIME_GOES,
        "EC P-256 cannot reach 0.7: the bare loop makes a key and a CSR in "
        "about 0.1 ms per process, while one renewal's unavoidable work (2 "
        "HTTP round trips, the ledger writes that make it safe to retry, the "
        "fsyncs of the key before the CSR leaves and of the atomic install) "
        "takes several ms of CPU by itself; 0.7 would need a whole renewal in "
        "0.15 ms. The ratio says how small key generation is next to the I/O, "
        "not that the worker is idle: renewals per second is the figure that "
        "counts here.",
    ],
    "rsa-2048": [
        *_WHERE_THE_TIME_GOES,
        "RSA-2048 sits at about 0.7: a key costs the bare loop about 40-55 ms "
        "of CPU, and a renewal adds about 15 ms of worker CPU (as EC) and "
        "about 6 ms in the sandbox, redis-server and the scheduler on the "
        "same 2 cores; the sandbox's share (about 2 ms) would be DigiCert's "
        "in production.",
    ],
}


def cpu_breakdown(runs: list[RenewalRun], count: int) -> str:
    """Milliseconds of CPU per renewal, by process, in the median run."""
    median = sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]
    return ", ".join(
        f"{part} {seconds * 1000 / count:.2f} ms"
        for part, seconds in median.cpu_seconds.items()
    )
