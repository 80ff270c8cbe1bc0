"""The worker's multi-process metrics folder (certrenew/metrics/multiprocess.py):
counts made after the set-up land in files the exposition server reads, and a
process that loaded prometheus_client too early is refused, not left to count
where no scrape sees."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from certrenew.metrics.multiprocess import (
    MetricsSetupError,
    require_multiprocess_values,
    worker_metrics_environment,
)

# What `certrenew worker` and a worker process do, in that order, in a fresh
# interpreter; then what Dramatiq's exposition server reads from the folder.
WORKER_PROCESS = """
import json, os, sys
from certrenew.metrics.multiprocess import (
    require_multiprocess_values, worker_metrics_environment,
)

with worker_metrics_environment(9191) as folder:
    from certrenew.metrics.work import count_failed
    require_multiprocess_values()
    count_failed("renew")

    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    print(json.dumps({
        "files": sorted(os.listdir(folder)),
        "failed": registry.get_sample_value(
            "certrenew_renewals_total", {"action": "renew", "result": "failed"}
        ),
        "port": os.environ["dramatiq_prom_port"],
    }))
"""


def test_counts_made_after_the_set_up_are_read_from_the_shared_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / "counter_4242.db").write_bytes(b"from an earlier run")
    environment = {"PATH": "/usr/bin:/bin", "dramatiq_prom_db": str(tmp_path)}

    result = subprocess.run(
        [sys.executable, "-c", WORKER_PROCESS],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["failed"] == 1
    assert "counter_4242.db" not in seen["files"]
    assert any(name.startswith("counter_") for name in seen["files"])
    assert seen["port"] == "9191"


def test_a_process_that_loaded_prometheus_client_first_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Set, then removed: undone either way should the set-up write them.
    for variable in ("PROMETHEUS_MULTIPROC_DIR", "dramatiq_prom_db"):
        monkeypatch.setenv(variable, "")
        monkeypatch.delenv(variable)
    # Loaded with no folder set: values are kept in this process's memory.
    importlib.import_module("prometheus_client")

    with (
        pytest.raises(MetricsSetupError) as set_up,
        worker_metrics_environment(9191),
    ):
        pass
    with pytest.raises(MetricsSetupError) as checked:
        require_multiprocess_values()

    for error in (set_up.value, checked.value):
        assert "prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR" in (
            str(error)
        )
