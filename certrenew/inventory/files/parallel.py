"""Read a large file inventory on several cores, in the order it was walked.

Parsing certificates and keys is CPU work, and one Python process uses one
core. The walk stays in the scanning process; the entries it finds go out in
batches to a pool of reader processes and come back in walk order, with at
most two batches per process in flight, so memory stays flat however large
the inventory. While every reader is busy and the oldest batch is not back,
the scanning process reads the next batch itself rather than wait.

A pool costs a start-up (each process imports cryptography, about half a
second), so a scan reads its first ``LOCAL_STEMS`` entries itself and starts
the pool only when there are more. The pool then stays up for later scans.
Processes are spawned, not forked: the scheduler runs threads, and a fork
copies locks held by other threads.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from pathlib import Path

from certrenew.config import LoggingSettings, Settings
from certrenew.inventory.entry import Problem
from certrenew.inventory.files.layout import StemFiles
from certrenew.inventory.files.reading import EntryReader, StemRead
from certrenew.logs import configure_logging, get_logger

log = get_logger(__name__)

# Entries per batch: large enough that sending a batch costs little next to
# reading it, small enough that results stream back steadily.
BATCH_STEMS = 250

# Entries a scan reads itself before it starts a pool: below this, starting
# the processes would cost more than it saves.
LOCAL_STEMS = 5_000

# cgroup v2 (what Kubernetes CPU limits become): "QUOTA PERIOD" or "max PERIOD".
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")

# Batches the scanning process may read ahead of the oldest one sent.
LOCAL_AHEAD = 2

Batch = list[StemFiles | Problem]
# A batch sent to the pool, or read already.
_Slot = Future[list[StemRead]] | list[StemRead]


def usable_cpus(cgroup_cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup quota.

    ``os.cpu_count()`` counts the node's cores; in a container limited to
    two CPUs on a 64-core node, 64 readers would only fight over the quota.
    """
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = cgroup_cpu_max.read_text().split()
        return max(1, min(cpus, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        # No cgroup v2 file, or "max": no quota.
        return cpus


class ParallelReader:
    """Reads entries in a pool of processes, started on first need and kept."""

    def __init__(self, reader: EntryReader, processes: int) -> None:
        self.reader = reader
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def read(self, walked: Iterable[StemFiles | Problem]) -> Iterator[StemRead]:
        """What each entry name of the walk gave, in walk order."""
        batches = _batches(walked)
        if self._pool is None:
            for batch in islice(batches, LOCAL_STEMS // BATCH_STEMS):
                yield from read_batch(self.reader, batch)
        yield from self._read_in_pool(batches)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _read_in_pool(self, batches: Iterator[Batch]) -> Iterator[StemRead]:
        # Batches in walk order, each sent to the pool or already read here.
        slots: deque[tuple[Batch, _Slot]] = deque()
        sent_at_most = 2 * self.processes
        try:
            for batch in batches:
                while len(slots) >= sent_at_most + LOCAL_AHEAD:
                    yield from self._finish(*slots.popleft())
                if _waiting(slots) >= sent_at_most and not _ready(slots[0][1]):
                    slots.append((batch, read_batch(self.reader, batch)))
                else:
                    slots.append((batch, self._submit(batch)))
                while slots and _ready(slots[0][1]):
                    yield from self._finish(*slots.popleft())
            while slots:
                yield from self._finish(*slots.popleft())
        finally:
            for _, slot in slots:
                if isinstance(slot, Future):
                    slot.cancel()

    def _finish(self, batch: Batch, slot: _Slot) -> list[StemRead]:
        return self._result(batch, slot) if isinstance(slot, Future) else slot

    def _submit(self, batch: Batch) -> Future[list[StemRead]]:
        try:
            return self._started_pool().submit(_read_batch, batch)
        except BrokenProcessPool:
            # The pool broke after its last batch came back; start another.
            self._broken()
            return self._started_pool().submit(_read_batch, batch)

    def _started_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_reader,
                initargs=(
                    self.reader.label,
                    self.reader.settings,
                    self.reader.max_file_bytes,
                    self.reader.settings.logging,
                ),
            )
            log.info(
                "scan_pool_started", source=self.reader.label, processes=self.processes
            )
        return self._pool

    def _result(self, batch: Batch, future: Future[list[StemRead]]) -> list[StemRead]:
        try:
            return future.result()
        except BrokenProcessPool:
            # A reader process died (killed, out of memory): every batch in
            # flight is lost with it. Each is read here instead, and the next
            # batch sent starts a new pool.
            self._broken()
            return read_batch(self.reader, batch)

    def _broken(self) -> None:
        log.warning("scan_pool_broken", source=self.reader.label)
        self.close()


def read_batch(reader: EntryReader, batch: Batch) -> list[StemRead]:
    return [
        StemRead([item]) if isinstance(item, Problem) else reader.read(item)
        for item in batch
    ]


def _waiting(slots: deque[tuple[Batch, _Slot]]) -> int:
    """Batches sent to the pool and not back yet."""
    return sum(1 for _, slot in slots if isinstance(slot, Future) and not slot.done())


def _ready(slot: _Slot) -> bool:
    return not isinstance(slot, Future) or slot.done()


def _batches(walked: Iterable[StemFiles | Problem]) -> Iterator[Batch]:
    walked = iter(walked)
    while batch := list(islice(walked, BATCH_STEMS)):
        yield batch


class _ReaderProcess:
    """The reader of one pool process, made once by the pool's initializer."""

    reader: EntryReader | None = None


def _start_reader(
    label: str, settings: Settings, max_file_bytes: int, logging: LoggingSettings
) -> None:
    configure_logging(logging, process="scan-reader")
    _ReaderProcess.reader = EntryReader(label, settings, max_file_bytes)


def _read_batch(batch: Batch) -> list[StemRead]:
    reader = _ReaderProcess.reader
    if reader is None:
        raise RuntimeError("a scan reader process was started without its reader")
    return read_batch(reader, batch)
