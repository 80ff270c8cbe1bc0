"""Inventory scan: speed against a bare parsing loop, cores, memory, openssl.

The subject is what the scheduler runs every scan interval:
``scheduler.scan.iter_scan`` over a ``FileSource``. The bare loop does the
least any scanner must: read every certificate and key file, parse them with
cryptography, and take the expiry and the SHA-1 thumbprint.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from bench.common import (
    Result,
    Spread,
    certificate_files,
    paired_runs,
    peak_rss_bytes,
    pem_inventory,
    seconds_text,
    speed_ratios,
    timed,
)
from certrenew.inventory.files.parallel import usable_cpus


def quiet_logging() -> None:
    from certrenew.config import LoggingSettings
    from certrenew.logs import configure_logging

    configure_logging(LoggingSettings(level="error"), process="bench")


def certrenew_scan(folder: Path, processes: int = 1) -> int:
    """Scan the folder as the scheduler does; the number of entries found."""
    from certrenew.config import Settings
    from certrenew.inventory.entry import Problem
    from certrenew.inventory.files import FileSource
    from scheduler.scan import iter_scan

    source = FileSource(folder, Settings(), scan_processes=processes)
    found = 0
    for item in iter_scan([source], datetime.now(UTC)):
        assert not isinstance(item, Problem), f"bench inventory problem: {item}"
        found += 1
    return found


def bare_loop(certificates: list[Path]) -> int:
    """Read and parse every certificate and key; expiry and SHA-1 of each."""
    expiring = 0
    now = datetime.now(UTC)
    for path in certificates:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
        certificate.fingerprint(hashes.SHA1())  # noqa: S303 - the thumbprint is SHA-1 by definition
        if certificate.not_valid_after_utc < now:
            expiring += 1
        serialization.load_pem_private_key(
            path.with_suffix(".key").read_bytes(), password=None
        )
    return len(certificates)


def kept_scanner(folder: Path, processes: int) -> tuple[Callable[[], int], float]:
    """Scans by one source kept between them, as the scheduler keeps it, and
    the seconds its first scan took (starting a pool of readers, if any).

    The source remembers which keys matched their certificates; the first
    scans run twice, the files' last change more than two seconds behind
    (FileSource.scan remembers only pairs settled that long).
    """
    from certrenew.config import Settings
    from certrenew.inventory.entry import Problem
    from certrenew.inventory.files import FileSource
    from scheduler.scan import iter_scan

    source = FileSource(folder, Settings(), scan_processes=processes)

    def scan() -> int:
        found = 0
        for item in iter_scan([source], datetime.now(UTC)):
            assert not isinstance(item, Problem), f"bench inventory problem: {item}"
            found += 1
        return found

    first_seconds = timed(scan)
    time.sleep(2.1)
    scan()
    return scan, first_seconds


# Files the step costs are timed over: enough for a steady figure, few
# enough that the objects a step keeps do not make it the garbage
# collector's figure too (timed over 100,000, the CA check seemed 19 µs).
STEP_FILES = 5_000


def step_costs(certificates: list[Path]) -> dict[str, float]:
    """Microseconds per entry of each step of the scan, timed one at a time.

    The steps marked "bare loop" are the bare loop's own way; the rest are
    the scan's. Each step runs on fresh parses, as in a scan, and drops
    what it makes, as a scan does.
    """
    from certrenew.config import Settings
    from certrenew.inventory.facts import ParsedCertificate
    from certrenew.inventory.files.reading import EntryReader
    from scheduler.policy import renewal_due

    certificates = certificates[:STEP_FILES]
    keys = [path.with_suffix(".key") for path in certificates]
    reader = EntryReader("bench", Settings(), max_file_bytes=1024 * 1024)
    costs: dict[str, float] = {}

    def step(name: str, action: Callable[[], object]) -> None:
        costs[name] = timed(action) / len(certificates) * 1e6

    def each(function: Callable[..., object], *inputs: list[Any]) -> None:
        for arguments in zip(*inputs, strict=True):
            function(*arguments)

    def read_pair(certificate: Path, key: Path) -> None:
        reader.read_file(str(certificate))
        reader.read_file(str(key))

    step(
        "read both files, bare loop (Path.read_bytes)",
        lambda: each(lambda c, k: (c.read_bytes(), k.read_bytes()), certificates, keys),
    )
    step(
        "read both files, the scan (os.read, file identity kept)",
        lambda: each(read_pair, certificates, keys),
    )
    certificate_pems = [path.read_bytes() for path in certificates]
    key_pems = [path.read_bytes() for path in keys]
    step(
        "parse certificate, expiry, SHA-1, bare loop",
        lambda: each(_parsed_with_thumbprint, certificate_pems),
    )
    step(
        "parse key, bare loop",
        lambda: each(
            lambda pem: serialization.load_pem_private_key(pem, None), key_pems
        ),
    )

    step(
        "parse certificate, the scan",
        lambda: each(x509.load_pem_x509_certificates, certificate_pems),
    )

    def fresh() -> list[Any]:
        return [x509.load_pem_x509_certificate(pem) for pem in certificate_pems]

    parsed = fresh()
    step(
        "DER walk: CA flag, common name, public half (der.py)",
        lambda: each(ParsedCertificate, parsed),
    )
    walked = [ParsedCertificate(c) for c in fresh()]
    step("facts: SHA-1, validity", lambda: each(ParsedCertificate.facts, walked))
    step(
        "key check: the key file's public half (der.py)",
        lambda: each(ParsedCertificate.key_pem_confirmed, walked, key_pems),
    )
    facts = [certificate.facts() for certificate in walked]
    policy, now = Settings().policy, datetime.now(UTC)
    step(
        "policy verdict",
        lambda: each(lambda f: renewal_due(f, policy, now), facts),
    )
    return costs


def _parsed_with_thumbprint(pem: bytes) -> x509.Certificate:
    certificate = x509.load_pem_x509_certificate(pem)
    certificate.fingerprint(hashes.SHA1())  # noqa: S303 - the thumbprint is SHA-1 by definition
    _ = certificate.not_valid_after_utc
    return certificate


def bench_speed(count: int, repeats: int) -> list[Result]:
    quiet_logging()
    folder = pem_inventory(count)
    certificates = certificate_files(folder)
    # One untimed pass each, so both sides start with a warm page cache.
    assert certrenew_scan(folder) == bare_loop(certificates) == count

    def bare() -> int:
        return bare_loop(certificates)

    first_bare, first_scans = paired_runs(
        bare, lambda: certrenew_scan(folder), repeats=repeats
    )
    first = _speed_result(
        "1. inventory scan, one process, first scan",
        first_bare,
        first_scans,
        count,
        repeats,
        absolute={
            f"step: {name}": f"{micros:.1f} µs"
            for name, micros in step_costs(certificates).items()
        },
        notes=[
            "A scan by a new source, as `certrenew scan` or a scheduler's "
            "first scan after it starts, over EV certificates from the sample "
            "CA (an eight-attribute subject; SAN, basicConstraints, EKU and "
            "policies). The scan does more than the bare loop: it tells leaves "
            "from CA certificates, checks that each key belongs to its "
            "certificate, reads the common name and gives each entry a "
            "verdict; the rest of its time is the walk, sidecars and settings, "
            "and the entries themselves. It reads the CA flag, the common name "
            "and both public halves of the key with a DER walk "
            "(certrenew/inventory/der.py), so it never loads the key, which "
            "for EC multiplies the scalar out. The steps are timed one at a "
            f"time over the first {min(count, STEP_FILES):,} files.",
        ],
    )

    later_scan, _ = kept_scanner(folder, 1)
    later_bare, later_scans = paired_runs(bare, later_scan, repeats=repeats)
    later = _speed_result(
        "1. inventory scan, one process, later scans",
        later_bare,
        later_scans,
        count,
        repeats,
        notes=[
            "The scheduler's scans after its first: the source remembers "
            "which key files matched their certificates, and reads only the "
            "certificate of a pair whose two files have not changed (device, "
            "inode, size, mtime and ctime).",
        ],
    )

    processes = usable_cpus()
    pooled_scan, first_seconds = kept_scanner(folder, processes)
    pooled_bare, pooled = paired_runs(bare, pooled_scan, repeats=repeats)
    pooled_ratio = speed_ratios(pooled_bare, pooled)
    cores = Result(
        benchmark="1b. inventory scan, all cores, later scans",
        figure=f"scan on {processes} processes ÷ bare loop (one process)",
        baseline="the same bare loop, one process",
        ratio=pooled_ratio,
        aim="> 1.0",
        met=pooled_ratio.median > 1.0,
        size=f"{count:,} pairs, {repeats} runs",
        absolute={
            "bare loop": seconds_text(pooled_bare),
            "pooled scan": seconds_text(pooled),
            "first scan, starting the pool": f"{first_seconds:.3f} s",
        },
        notes=[
            "certrenew's own parallel scan (`scan_processes`): the scanning "
            "process walks the tree and judges each entry; reader processes "
            "parse the files in batches. The pool starts on the first scan "
            "that meets more than 5,000 entries and stays for later scans, as "
            "in the scheduler; the timed runs are those later scans.",
        ],
    )
    return [first, later, cores]


def _speed_result(
    benchmark: str,
    bare: list[float],
    scans: list[float],
    count: int,
    repeats: int,
    *,
    absolute: dict[str, str] | None = None,
    notes: list[str],
) -> Result:
    ratio = speed_ratios(bare, scans)
    return Result(
        benchmark=benchmark,
        figure="certrenew scan speed ÷ bare loop speed",
        baseline="bare loop: read, parse cert and key, expiry, SHA-1",
        ratio=ratio,
        aim="≥ 0.8",
        met=ratio.median >= 0.8,
        size=f"{count:,} certificate+key pairs, {repeats} runs",
        absolute={
            "bare loop": seconds_text(bare),
            "certrenew": seconds_text(scans),
            "certrenew per entry": f"{Spread.of(scans).median / count * 1e6:.0f} µs",
            **(absolute or {}),
        },
        notes=notes,
    )


def peak_rss_of_scan(folder: Path, subject: str) -> int:
    """Peak RSS in bytes of one scan run in a fresh subprocess."""
    answer = subprocess.run(
        [sys.executable, "-m", "bench.scan", "memory", subject, str(folder)],
        capture_output=True,
        check=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    figures = json.loads(answer.stdout.strip().splitlines()[-1])
    return int(figures["peak_rss_bytes"])


def bench_memory(small: int, large: int, repeats: int) -> list[Result]:
    small_folder, large_folder = pem_inventory(small), pem_inventory(large)
    return [
        _memory_result(
            "2. scan memory",
            "scan",
            (small_folder, large_folder),
            (small, large),
            repeats,
            aim=(
                "< 1.20 and < 200 MB",
                lambda ratio, peak_mb: ratio < 1.2 and peak_mb < 200,
            ),
            note="The scan streams: each entry is judged and dropped, as "
            "`certrenew scan --json` and the scheduler's scan job read them.",
        ),
        _memory_result(
            "2b. scheduler's scan job memory",
            "scheduler",
            (small_folder, large_folder),
            (small, large),
            repeats,
            aim=("< 200 MB; report the growth", lambda ratio, peak_mb: peak_mb < 200),
            note="The scheduler keeps, between scans, one row per certificate "
            "for the certificate gauges and the 15 soonest due for the status "
            "page; the growth is those rows. Before they replaced the entries "
            "kept whole, 20,000 certificates kept 38 MB; now 9 MB.",
        ),
    ]


def _memory_result(
    benchmark: str,
    subject: str,
    folders: tuple[Path, Path],
    sizes: tuple[int, int],
    repeats: int,
    *,
    aim: tuple[str, Callable[[float, float], bool]],
    note: str,
) -> Result:
    small_rss, large_rss = [], []
    for _ in range(repeats):
        small_rss.append(peak_rss_of_scan(folders[0], subject))
        large_rss.append(peak_rss_of_scan(folders[1], subject))
    ratio = speed_ratios(large_rss, small_rss)  # large ÷ small
    peak_mb = max(large_rss) / 2**20
    small, large = sizes
    aim_text, aim_met = aim
    return Result(
        benchmark=benchmark,
        figure=f"peak RSS at {large:,} ÷ peak RSS at {small:,}",
        baseline=f"the same at {small:,} pairs",
        ratio=ratio,
        aim=aim_text,
        met=aim_met(ratio.median, peak_mb),
        size=f"{small:,} and {large:,} pairs, {repeats} runs each",
        absolute={
            f"peak RSS {small:,}": f"{Spread.of(small_rss).median / 2**20:.1f} MB",
            f"peak RSS {large:,}": f"{Spread.of(large_rss).median / 2**20:.1f} MB",
        },
        notes=[
            note,
            f"Each run is a fresh `python -m bench.scan memory {subject}` "
            "process, on one process (no reader pool); peak RSS is its VmHWM.",
        ],
    )


def openssl_loop(certificates: list[Path]) -> None:
    script = (
        'for f in "$@"; do openssl x509 -in "$f" -enddate -fingerprint -noout; done'
    )
    subprocess.run(
        ["sh", "-c", script, "sh", *map(str, certificates)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def bench_openssl(count: int, repeats: int) -> list[Result]:
    quiet_logging()
    folder = pem_inventory(count)
    certificates = certificate_files(folder)
    openssl, scan = paired_runs(
        lambda: openssl_loop(certificates),
        lambda: certrenew_scan(folder),
        repeats=repeats,
    )
    ratio = speed_ratios(openssl, scan)
    return [
        Result(
            benchmark="3. scan vs openssl shell loop",
            figure="certrenew scan speed ÷ shell loop speed",
            baseline="`for f; do openssl x509 -enddate -fingerprint -noout; done`",
            ratio=ratio,
            aim="report",
            met=None,
            size=f"{count:,} pairs, {repeats} runs",
            absolute={
                "openssl loop": seconds_text(openssl),
                "certrenew": seconds_text(scan),
            },
            notes=[
                "The shell loop reads certificates only; the scan also reads "
                "and checks every key."
            ],
        )
    ]


def _memory_main(subject: str, folder: str) -> None:
    quiet_logging()
    if subject == "scan":
        certrenew_scan(Path(folder))
    else:
        _scheduler_scan(Path(folder))
    print(json.dumps({"peak_rss_bytes": peak_rss_bytes()}))


def _scheduler_scan(folder: Path) -> None:
    """The scheduler's scan job as far as memory goes: what it keeps after a
    scan (the gauges' rows), without the claims it makes in Redis."""
    from datetime import timedelta

    from certrenew.config import Settings
    from certrenew.inventory.entry import Problem
    from certrenew.inventory.files import FileSource
    from scheduler.metrics import SnapshotBuilder
    from scheduler.scan import iter_scan

    now = datetime.now(UTC)
    rows = SnapshotBuilder(now=now, overdue_after=timedelta(days=5))
    problems = []
    source = FileSource(folder, Settings(), scan_processes=1)
    for item in iter_scan([source], now):
        if isinstance(item, Problem):
            problems.append(item)
        else:
            rows.add(item)
    snapshot = rows.snapshot(problems)
    assert len(snapshot.rows) > 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["memory"]:
        _memory_main(sys.argv[2], sys.argv[3])
