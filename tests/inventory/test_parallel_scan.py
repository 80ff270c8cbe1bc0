"""A large file inventory read by a pool of processes: same answer, same order.

The thresholds are lowered so that a dozen entries are "large": the first
batch is read in the scanning process, the rest by real spawned processes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certrenew.config import Settings
from certrenew.inventory.entry import Entry, Problem
from certrenew.inventory.files import FileSource, parallel
from certrenew.inventory.files.parallel import usable_cpus
from tests.inventory.conftest import Issue, write, write_pair

ENTRIES = 12


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "BATCH_STEMS", 3)
    monkeypatch.setattr(parallel, "LOCAL_STEMS", 3)


@pytest.fixture
def inventory(tmp_path: Path, issue: Issue, ec_key: ec.EllipticCurvePrivateKey) -> Path:
    """Good pairs over three folders, a sidecar, and files that are problems."""
    certificate = issue(ec_key, "www.example.com")
    for number in range(ENTRIES):
        write_pair(tmp_path / f"site{number % 3}", f"host{number}", certificate, ec_key)
    write(
        tmp_path / "site1/host4.certrenew.toml",
        b'[policy]\nfloor_days = 90\n[labels]\nteam = "shop"\n',
    )
    write(tmp_path / "site2/broken.crt", b"-----BEGIN CERTIFICATE-----\nAAAA\n")
    write(tmp_path / "site2/lonely.key", b"not read")
    write(tmp_path / "site0/chain.pem", certificate)
    return tmp_path


@pytest.fixture
def pooled(inventory: Path) -> Iterator[FileSource]:
    source = FileSource(inventory, Settings(), scan_processes=2)
    yield source
    source.close()


def test_a_pooled_scan_finds_what_one_process_finds_in_the_same_order(
    inventory: Path, pooled: FileSource
) -> None:
    alone = list(FileSource(inventory, Settings(), scan_processes=1).scan())

    together = list(pooled.scan())

    assert together == alone
    assert len(multiprocessing.active_children()) == 2
    entries = [item for item in together if isinstance(item, Entry)]
    problems = [item for item in together if isinstance(item, Problem)]
    assert len(entries) == ENTRIES
    assert [Path(p.location).name for p in problems] == ["broken.crt", "lonely.key"]
    with_sidecar = next(entry for entry in entries if entry.name == "site1/host4")
    assert with_sidecar.policy.floor_days == 90
    assert with_sidecar.labels == {"team": "shop"}


def test_the_pool_stays_up_for_the_next_scan(pooled: FileSource) -> None:
    list(pooled.scan())
    first = {process.pid for process in multiprocessing.active_children()}

    list(pooled.scan())

    assert {process.pid for process in multiprocessing.active_children()} == first


def test_a_killed_reader_process_loses_nothing(
    inventory: Path, pooled: FileSource
) -> None:
    alone = list(FileSource(inventory, Settings(), scan_processes=1).scan())
    list(pooled.scan())  # the pool is up; the next scan sends every batch to it
    scan = pooled.scan()
    found = [next(scan)]

    for process in multiprocessing.active_children():
        # Once one reader dies, the pool ends the others itself.
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid or 0, signal.SIGKILL)
        process.join()
    found.extend(scan)

    assert found == alone


def test_a_small_inventory_starts_no_process(
    inventory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "LOCAL_STEMS", 1_000)
    source = FileSource(inventory, Settings(), scan_processes=2)

    assert len(list(source.scan())) == ENTRIES + 2
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("150000 100000\n", 2),  # a limit of 1.5 CPUs: two readers
        ("100000 100000\n", 1),
        ("max 100000\n", None),  # no limit
        (None, None),  # no cgroup v2
    ],
)
def test_usable_cpus_follow_a_cgroup_cpu_limit(
    tmp_path: Path, cpu_max: str | None, expected: int | None
) -> None:
    cpu_max_file = tmp_path / "cpu.max"
    if cpu_max is not None:
        cpu_max_file.write_text(cpu_max)
    affinity = len(os.sched_getaffinity(0))

    cpus = usable_cpus(cpu_max_file)

    assert cpus == (affinity if expected is None else min(affinity, expected))
