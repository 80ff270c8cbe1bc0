"""Start-up time and idle memory of certrenew's processes against Dramatiq's.

The baseline is ``python -c 'import dramatiq'``. The worker and the scheduler
are measured as what each process does before its first job: import its
modules, load the settings and build its runtime (broker, actors, sources) on
the embedded store, then sit idle; the figures are wall time to that point
and the peak RSS, both from a fresh subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Result, Spread, peak_rss_bytes

ROOT = Path(__file__).resolve().parent.parent


def _fresh(arguments: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child process."""
    started = time.perf_counter()
    answer = subprocess.run(
        [sys.executable, *arguments], capture_output=True, check=True, text=True,
        cwd=ROOT,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if answer.stdout.strip():
        return seconds, int(json.loads(answer.stdout.strip().splitlines()[-1]))
    return seconds, 0


def _dramatiq() -> tuple[float, int]:
    code = (
        "import dramatiq, json; from bench.common import peak_rss_bytes;"
        "print(json.dumps(peak_rss_bytes()))"
    )
    return _fresh(["-c", code])


def bench_startup(repeats: int) -> list[Result]:
    results = []
    baseline = [_dramatiq() for _ in range(repeats)]
    for role in ("worker", "scheduler"):
        runs = [_fresh(["-m", "bench.startup", role]) for _ in range(repeats)]
        time_ratio = Spread.of(
            [r[0] / b[0] for r, b in zip(runs, baseline, strict=True)]
        )
        rss = Spread.of([r[1] / 2**20 for r in runs])
        base_rss = Spread.of([b[1] / 2**20 for b in baseline])
        base_time = Spread.of([b[0] for b in baseline])
        own_time = Spread.of([r[0] for r in runs])
        results.append(
            Result(
                benchmark=f"8. {role} start-up and idle memory",
                figure=f"{role} start-up time ÷ `python -c 'import dramatiq'`",
                baseline="`python -c 'import dramatiq'`",
                ratio=time_ratio,
                aim="report",
                met=None,
                size=f"{repeats} fresh processes each",
                absolute={
                    "import dramatiq": (
                        f"{base_time.median:.3f} s, {base_rss.median:.1f} MB"
                    ),
                    role: f"{own_time.median:.3f} s, {rss.median:.1f} MB peak RSS",
                    "memory ratio": f"{rss.median / base_rss.median:.2f}",
                },
            )
        )
    return results


def _start(role: str) -> None:
    from certrenew.config import LoggingSettings, Settings
    from certrenew.logs import configure_logging

    configure_logging(LoggingSettings(level="error"), process=role)
    if role == "worker":
        import certrenew.commands.worker  # noqa: F401 - what `certrenew worker` imports
        from worker.bootstrap import start_runtime

        start_runtime(Settings())
    else:
        import scheduler.service  # noqa: F401 - what `certrenew scheduler` imports
        from worker.bootstrap import start_runtime

        runtime = start_runtime(Settings())
        runtime.ledger.counts()
    print(json.dumps(peak_rss_bytes()))


if __name__ == "__main__":
    _start(sys.argv[1])
