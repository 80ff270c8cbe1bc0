"""Run every benchmark and write bench/RESULTS.md: ``./dev bench [options]``.

The defaults fit in a few minutes on a 2-core machine; each size can be
raised to the issue's full figures (see ``--help`` and RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench import ledger_reads, queueing, renewals, scan, startup
from bench.common import Result

RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS.md"
LIBRARIES = ("cryptography", "dramatiq", "redis", "httpx", "pydantic", "structlog")


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./dev bench", description=__doc__)
    add = parser.add_argument
    add("--repeats", type=int, default=3, help="runs per timed figure (default 3)")
    add("--scan-pairs", type=int, default=10_000, help="issue: 100,000")
    add(
        "--memory-pairs",
        type=int,
        nargs=2,
        default=(2_000, 20_000),
        metavar=("SMALL", "LARGE"),
        help="issue: 10,000 100,000",
    )
    add("--openssl-files", type=int, default=1_000, help="issue: 1,000")
    add("--openssl-repeats", type=int, default=2)
    add("--queue-renewals", type=int, default=10_000, help="issue: 100,000")
    add("--pending-orders", type=int, default=2_000, help="committed run: 10,000")
    add("--api-renewals", type=int, default=1_000, help="issue: 1,000")
    add("--limited-renewals", type=int, default=1_000, help="issue: 2,000")
    add(
        "--time-scale",
        type=float,
        default=6.0,
        help="rate-limit windows are divided by this (default 6)",
    )
    add("--ec-renewals", type=int, default=300)
    # Enough RSA keys that the ramp and the tail of the worker threads, and
    # the spread of RSA key generation, are small beside the whole (at 40 one
    # run set spread over 0.40-0.69).
    add("--rsa-renewals", type=int, default=200)
    add("--speed-repeats", type=int, default=3)
    add(
        "--speed-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes, and bare-loop processes (default: one per core)",
    )
    add(
        "--only",
        nargs="*",
        default=None,
        metavar="NAME",
        help="run only these: scan memory openssl queue api limited speed startup "
        "pending",
    )
    add("--out", type=Path, default=RESULTS_PATH)
    return parser.parse_args(argv)  # fmt: skip


def benchmarks(options: argparse.Namespace) -> dict[str, Callable[[], list[Result]]]:
    small, large = options.memory_pairs
    return {
        "scan": lambda: scan.bench_speed(options.scan_pairs, options.repeats),
        "memory": lambda: scan.bench_memory(small, large, options.repeats),
        "openssl": lambda: scan.bench_openssl(
            options.openssl_files, options.openssl_repeats
        ),
        "queue": lambda: queueing.bench_queueing(
            options.queue_renewals, options.repeats
        ),
        "api": lambda: renewals.bench_api_calls(options.api_renewals),
        "limited": lambda: renewals.bench_rate_limited(
            options.limited_renewals, options.time_scale
        ),
        "speed": lambda: (
            renewals.bench_speed(
                options.ec_renewals,
                "ec-p256",
                options.speed_repeats,
                options.speed_processes,
            )
            + renewals.bench_speed(
                options.rsa_renewals,
                "rsa-2048",
                options.speed_repeats,
                options.speed_processes,
            )
        ),
        "startup": lambda: startup.bench_startup(options.repeats),
        "pending": lambda: ledger_reads.bench_pending_reads(
            options.pending_orders, options.repeats
        ),
    }


def machine() -> list[str]:
    memory_kb = 0
    with Path("/proc/meminfo").open() as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    libraries = ", ".join(f"{name} {version(name)}" for name in LIBRARIES)
    return [
        f"- cores: {os.cpu_count()}, memory: {memory_kb / 2**20:.1f} GiB",
        f"- {platform.platform()}",
        f"- Python {platform.python_version()}; {libraries}",
    ]


def code_version() -> str:
    """The commit the figures were measured on, and whether the tree differed."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True, cwd=RESULTS_PATH.parent,
        ).stdout.strip()  # fmt: skip
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, cwd=RESULTS_PATH.parent,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    # The results file itself is rewritten by every run.
    changed_files = [
        line for line in changed.splitlines() if not line.endswith(RESULTS_PATH.name)
    ]
    return f"{commit} with uncommitted changes" if changed_files else commit


def render(
    results: list[Result], argv: Sequence[str], started: datetime, seconds: float
) -> str:
    command = " ".join(["./dev bench", *map(shlex.quote, argv)])
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}`, run {started:%Y-%m-%d %H:%M} UTC, "
        f"took {seconds:.0f} s, on commit {code_version()}.",
        "",
        *machine(),
        "",
        "Each figure is a ratio against a baseline measured in the same run: the",
        "median of the runs, with the lowest and highest in brackets. Absolute",
        "figures stand beside it and are not the verdict (shared, noisy machine).",
        "",
        "| benchmark | figure | ratio: median (min-max) | aim | met | size |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        ratio = "-"
        if result.ratio is not None:
            r = result.ratio
            ratio = f"**{r.median:.3g}** ({r.low:.3g}-{r.high:.3g})"
        met = {True: "yes", False: "**no**", None: "-"}[result.met]
        lines.append(
            f"| {result.benchmark} | {result.figure} | {ratio} | {result.aim} "
            f"| {met} | {result.size} |"
        )
    lines += ["", "## Details", ""]
    for result in results:
        lines += [f"### {result.benchmark}", "", f"Baseline: {result.baseline}.", ""]
        lines += [f"- {name}: {value}" for name, value in result.absolute.items()]
        # A blank line after each note: each is a paragraph or a list item.
        lines += [""] + [line for note in result.notes for line in (note, "")]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse_arguments(argv)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    results: list[Result] = []
    for name, bench in benchmarks(options).items():
        if options.only is not None and name not in options.only:
            continue
        print(f"==> {name}", file=sys.stderr, flush=True)
        bench_started = time.perf_counter()
        results += bench()
        print(f"    {time.perf_counter() - bench_started:.1f} s", file=sys.stderr)
    text = render(results, argv, started_at, time.perf_counter() - started)
    options.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
