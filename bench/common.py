"""What every benchmark shares: timing, results, the cached PEM inventory."""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certrenew.samples import LocalCA

# Where generated inventories live between runs (not committed).
CACHE_DIR = Path(__file__).resolve().parent / ".cache"

# Real certificates generated per inventory; the rest are copies of them.
UNIQUE_CERTIFICATES = 300


@dataclass(frozen=True)
class Spread:
    """The median of several runs and their minimum and maximum."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))


@dataclass
class Result:
    """One figure of RESULTS.md.

    ``ratio`` is the verdict, measured against ``baseline`` in the same run;
    ``absolute`` holds the times (or other raw figures) shown beside it.
    """

    benchmark: str
    figure: str
    baseline: str
    ratio: Spread | None
    aim: str
    met: bool | None
    size: str
    absolute: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def timed(action: Callable[[], object]) -> float:
    """Seconds one call of ``action`` takes, by the monotonic clock."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def paired_runs(
    baseline: Callable[[], object],
    subject: Callable[[], object],
    *,
    repeats: int,
) -> tuple[list[float], list[float]]:
    """Run the baseline and the subject alternately, ``repeats`` times each.

    Alternating keeps a noisy neighbour from loading only one side.
    """
    baseline_seconds: list[float] = []
    subject_seconds: list[float] = []
    for _ in range(repeats):
        baseline_seconds.append(timed(baseline))
        subject_seconds.append(timed(subject))
    return baseline_seconds, subject_seconds


def speed_ratios(
    baseline_seconds: Sequence[float], subject_seconds: Sequence[float]
) -> Spread:
    """Subject speed as a share of the baseline's, per pair of runs."""
    return Spread.of(
        [b / s for b, s in zip(baseline_seconds, subject_seconds, strict=True)]
    )


def seconds_text(values: Sequence[float]) -> str:
    spread = Spread.of(values)
    return f"{spread.median:.3f} s ({spread.low:.3f}-{spread.high:.3f})"


# The inventory


def make_leaf_pair(
    authority: LocalCA, common_name: str, *, not_after: datetime
) -> tuple[bytes, bytes]:
    """An EV leaf certificate (PEM) from the sample CA and its key (PEM,
    PKCS#8): the subject and extensions of the certificates certrenew
    renews, which is what a scan reads."""
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    bundle = authority(
        request.public_bytes(serialization.Encoding.PEM),
        common_name,
        [common_name, f"www.{common_name}"],
        not_after - timedelta(days=199),
        not_after,
    )
    leaf = x509.load_pem_x509_certificates(bundle)[0]
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return leaf.public_bytes(serialization.Encoding.PEM), key_pem


def pem_inventory(count: int, *, cache_dir: Path = CACHE_DIR) -> Path:
    """A folder of ``count`` certificate and key pairs, made once and kept.

    A few hundred real EV certificates from the sample CA, then copied
    under new names up to ``count``, spread over folders of 1,000 entries each (the
    way large inventories are laid out, and kinder to the file system).
    """
    folder = cache_dir / f"ev-inventory-{count}"
    done = folder / ".complete"
    if done.exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)

    # Spread expiries over the next 199 days: some due, most not.
    now = datetime.now(UTC)
    authority = LocalCA(now)
    unique = min(count, UNIQUE_CERTIFICATES)
    pairs = [
        make_leaf_pair(
            authority,
            f"host{number}.bench.example",
            not_after=now + timedelta(days=5 + (number * 194) // unique),
        )
        for number in range(unique)
    ]
    for number in range(count):
        shard = folder / f"shard{number // 1000:03d}"
        if number % 1000 == 0:
            shard.mkdir(parents=True)
        certificate_pem, key_pem = pairs[number % unique]
        (shard / f"host{number}.crt").write_bytes(certificate_pem)
        key_path = shard / f"host{number}.key"
        key_path.write_bytes(key_pem)
        key_path.chmod(0o600)
    done.touch()
    return folder


def certificate_files(folder: Path) -> list[Path]:
    """Every certificate file of a bench inventory, in a stable order."""
    return sorted(folder.glob("shard*/*.crt"))


def peak_rss_bytes() -> int:
    """This process's peak RSS (VmHWM): unlike ru_maxrss, it does not carry
    over the parent's peak across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")
