"""One pass over the inventory: every entry with its verdict, every problem.

The loop streams: sources yield entries one at a time, each is judged as it
comes, and a broken file or a failing source is recorded and passed over, so
one bad certificate never stops the rest (STYLE.md, point 7). The command
``certrenew scan`` and the scheduler's periodic scan both run it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from certrenew.errors import CertrenewError
from certrenew.inventory.entry import Entry, InventorySource, Problem
from certrenew.logs import get_logger
from scheduler.policy import Due, renewal_due

log = get_logger(__name__)


@dataclass(frozen=True)
class ScannedEntry:
    """An entry and the policy's verdict on it at the time of the scan."""

    entry: Entry
    due: Due


ScanItem = ScannedEntry | Problem


@dataclass
class ScanReport:
    """What one scan found, with counts for the summary."""

    scanned_at: datetime
    sources: list[str]
    entries: list[ScannedEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def due(self) -> list[ScannedEntry]:
        return [scanned for scanned in self.entries if scanned.due.is_due]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "certificates": len(self.entries),
            "due": len(self.due),
            "expired": sum(1 for s in self.entries if s.due.rule == "expired"),
            "problems": len(self.problems),
        }


def iter_scan(sources: Iterable[InventorySource], now: datetime) -> Iterator[ScanItem]:
    """Every entry of every source with its verdict, and every problem, as found."""
    for source in sources:
        try:
            for item in source.scan():
                yield _judge(item, now)
        except (CertrenewError, OSError) as error:
            # A source that fails half-way (a folder gone, an API down) is one
            # problem; the sources after it are still scanned.
            problem = Problem(source.label, source.label, f"source failed: {error}")
            _log_problem(problem)
            yield problem


def scan_sources(
    sources: Iterable[InventorySource],
    now: datetime,
    *,
    on_item: Callable[[ScanItem], None] | None = None,
) -> ScanReport:
    """Scan every source into a report; ``on_item`` sees each item as it comes."""
    sources = list(sources)
    report = ScanReport(scanned_at=now, sources=[source.label for source in sources])

    for item in iter_scan(sources, now):
        if isinstance(item, Problem):
            report.problems.append(item)
        else:
            report.entries.append(item)
        if on_item is not None:
            on_item(item)

    log.info("scan_finished", sources=report.sources, **report.counts)
    return report


def _judge(item: Entry | Problem, now: datetime) -> ScanItem:
    if isinstance(item, Problem):
        _log_problem(item)
        return item

    due = renewal_due(item.facts, item.policy, now)
    if due.rule == "expired":
        log.warning(
            "certificate_expired",
            certificate=item.name,
            thumbprint=item.facts.thumbprint,
            not_after=item.facts.not_after.isoformat(),
        )
    elif due.is_due:
        log.debug(
            "certificate_due",
            certificate=item.name,
            thumbprint=item.facts.thumbprint,
            rule=due.rule,
            reason=due.reason,
        )
    return ScannedEntry(entry=item, due=due)


def _log_problem(problem: Problem) -> None:
    log.warning(
        "inventory_problem",
        source=problem.source,
        path=problem.location,
        error=problem.error,
    )
