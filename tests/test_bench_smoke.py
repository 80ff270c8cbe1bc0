"""Every benchmark still runs, at a tiny size; its numbers are not judged."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench import run


def test_every_benchmark_runs_at_a_tiny_size_and_writes_its_results(
    tmp_path: Path,
) -> None:
    out = tmp_path / "RESULTS.md"
    arguments = [
        "--repeats", "1", "--scan-pairs", "40", "--memory-pairs", "40", "80",
        "--openssl-files", "5", "--openssl-repeats", "1", "--queue-renewals", "30",
        "--api-renewals", "6", "--limited-renewals", "6", "--time-scale", "1000",
        "--ec-renewals", "4", "--rsa-renewals", "1", "--speed-repeats", "1",
        "--pending-orders", "20", "--out", str(out),
    ]  # fmt: skip

    assert run.main(arguments) == 0

    text = out.read_text()
    for number in range(1, 10):
        assert f"| {number}." in text, f"benchmark {number} is missing from {text}"
    assert "cores:" in text
    assert "--scan-pairs 40" in text
    # The commit the figures belong to: CI runs on a clean clone of main.
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert f"on commit {head}" in text
