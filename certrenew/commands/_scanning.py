"""The work of ``certrenew scan``: sources, the scan, the table, the JSON.

Kept apart from ``scan.py`` so that registering the command imports none of
this (rich, cryptography, the scheduler's scan loop).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from certrenew.config import Settings
from certrenew.errors import ConfigError
from certrenew.inventory.entry import InventorySource, Problem
from certrenew.inventory.files import FileSource
from certrenew.inventory.sources import open_sources
from certrenew.logs import configure_logging
from scheduler.scan import ScanItem, ScannedEntry, ScanReport, scan_sources

EXIT_OK = 0
EXIT_PROBLEMS = 1

SECONDS_PER_DAY = 86_400

# A progress bar appears once a scan has run this long or seen this many
# certificates; shorter scans print their table with no flicker before it.
PROGRESS_AFTER_SECONDS = 1.0
PROGRESS_AFTER_ITEMS = 500


def scan_command(settings: Settings, *, paths: list[Path], as_json: bool) -> int:
    """Scan, print the table or the JSON, and return the exit status."""
    now = datetime.now(UTC)
    sources = sources_for(paths, settings)
    # Logs go to stderr, so that stdout holds only the table or the JSON.
    configure_logging(settings.logging, stream=sys.stderr, process="scan")

    show_progress = not as_json and sys.stderr.isatty()
    with ProgressWhenSlow(enabled=show_progress) as progress:
        report = scan_sources(sources, now, on_item=progress.advance)

    if as_json:
        json.dump(scan_as_json(report), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(report)
    return EXIT_PROBLEMS if report.problems else EXIT_OK


def sources_for(paths: list[Path], settings: Settings) -> list[InventorySource]:
    """The folders given, else the configured sources; ConfigError if none."""
    if not paths:
        sources = open_sources(settings)
        if not sources:
            raise ConfigError(
                [
                    "nothing to scan: give folders (certrenew scan PATH...) or "
                    "configure [[inventory]] sources in the configuration file"
                ]
            )
        return sources

    missing = [f"{path}: not a folder" for path in paths if not path.is_dir()]
    if missing:
        raise ConfigError(missing)
    return [FileSource(path, settings) for path in paths]


# JSON


def scan_as_json(report: ScanReport) -> list[dict[str, Any]]:
    """The ``--json`` document: certificates in scan order, then problems."""
    certificates = [
        _certificate_json(scanned, report.scanned_at) for scanned in report.entries
    ]
    problems = [_problem_json(problem) for problem in report.problems]
    return certificates + problems


def _certificate_json(scanned: ScannedEntry, now: datetime) -> dict[str, Any]:
    entry, due, facts = scanned.entry, scanned.due, scanned.entry.facts
    return {
        "kind": "certificate",
        "name": entry.name,
        "source": entry.source,
        "path": entry.location,
        "key_path": entry.key_location,
        "common_name": facts.common_name,
        "dns_names": list(facts.dns_names),
        "subject": facts.subject,
        "issuer": facts.issuer,
        "serial_number": facts.serial_number,
        "key_type": facts.key_type,
        "key_size": facts.key_size,
        "signature_hash": facts.signature_hash,
        "not_before": facts.not_before.isoformat(),
        "not_after": facts.not_after.isoformat(),
        "days_left": _days_left(scanned, now),
        "thumbprint": facts.thumbprint,
        "due": due.is_due,
        "due_at": due.due_at.isoformat(),
        "rule": due.rule,
        "reason": due.reason,
        "labels": dict(entry.labels),
    }


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "kind": "problem",
        "source": problem.source,
        "path": problem.location,
        "error": problem.error,
    }


def _days_left(scanned: ScannedEntry, now: datetime) -> float:
    seconds = (scanned.entry.facts.not_after - now).total_seconds()
    return round(seconds / SECONDS_PER_DAY, 1)


# Table


def print_table(report: ScanReport) -> None:
    console = Console(highlight=False)
    table = Table(title="Certificates", title_justify="left")
    for column in ("Name", "Common name", "Expires", "Days left", "Due", "Why"):
        table.add_column(column, justify="right" if column == "Days left" else "left")

    ordered = sorted(report.entries, key=lambda s: s.entry.facts.not_after)
    for scanned in ordered:
        table.add_row(*_row(scanned, report.scanned_at), style=_style(scanned))
    if report.entries:
        console.print(table)

    _print_problems(console, report.problems)
    console.print(_summary(report))


def _row(scanned: ScannedEntry, now: datetime) -> tuple[str, ...]:
    facts, due = scanned.entry.facts, scanned.due
    due_text = {"expired": "EXPIRED", "not_yet_valid": "not yet"}.get(
        due.rule, "yes" if due.is_due else "no"
    )
    return (
        scanned.entry.name,
        facts.common_name or "-",
        facts.not_after.strftime("%Y-%m-%d"),
        f"{round(_days_left(scanned, now))}",
        due_text,
        due.reason,
    )


def _style(scanned: ScannedEntry) -> str:
    if scanned.due.rule == "expired":
        return "bold red"
    return "yellow" if scanned.due.is_due else ""


def _print_problems(console: Console, problems: list[Problem]) -> None:
    if not problems:
        return
    console.print()
    heading = (
        "1 file could not be read:"
        if len(problems) == 1
        else (f"{len(problems)} files could not be read:")
    )
    console.print(Text(heading, style="bold red"))
    for problem in problems:
        console.print(Text(f"  {problem.location}: {problem.error}"), soft_wrap=True)


def _summary(report: ScanReport) -> str:
    counts = report.counts
    certificates = _plural(counts["certificates"], "certificate")
    expired = f" ({counts['expired']} expired)" if counts["expired"] else ""
    problems = _plural(counts["problems"], "problem")
    return f"\n{certificates}, {counts['due']} due{expired}, {problems}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# Progress


class ProgressWhenSlow:
    """A progress bar on stderr that appears only when a scan takes a while."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self.count = 0
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressWhenSlow:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, item: ScanItem) -> None:
        self.count += 1
        if not self.enabled:
            return
        if self._progress is None and self._is_slow():
            self._start()
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self.count)

    def _is_slow(self) -> bool:
        elapsed_seconds = time.monotonic() - self.started
        return (
            elapsed_seconds >= PROGRESS_AFTER_SECONDS
            or self.count >= PROGRESS_AFTER_ITEMS
        )

    def _start(self) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("scanning"),
            BarColumn(),
            TextColumn("{task.completed} certificates"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task("scan", total=None)
        self._progress.start()
