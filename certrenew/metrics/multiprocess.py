"""The shared metrics folder of ``certrenew worker``'s processes.

prometheus_client chooses how it stores metric values once, when it is first
imported (``prometheus_client.values.ValueClass``): in files under
``PROMETHEUS_MULTIPROC_DIR`` if that variable is set then, in the process's
memory otherwise. Dramatiq forks its worker processes and its exposition server
from the ``certrenew worker`` process, so they inherit whatever that process
already imported; and Dramatiq's Prometheus middleware sets the variable only
at worker process boot, which is too late once prometheus_client is loaded.
Counted in memory, no worker writes a file, and the exposition server, which
reads only the folder, serves an empty page.

So the variable must be set before anything imports prometheus_client (our
counters in ``certrenew.metrics.work`` do, and ``worker.broker`` imports them).
This module imports neither, so ``certrenew worker`` can prepare the folder
first; ``require_multiprocess_values`` then makes a worker process refuse to
start, rather than count into the void, should an import sneak in earlier.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from certrenew.errors import CertrenewError

FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Dramatiq's Prometheus middleware reads these (lower case is its spelling,
# dramatiq/middleware/prometheus.py).
DRAMATIQ_FOLDER_VARIABLE = "dramatiq_prom_db"
DRAMATIQ_PORT_VARIABLE = "dramatiq_prom_port"


class MetricsSetupError(CertrenewError):
    """The worker's metrics would be counted where no scrape can see them."""


@contextmanager
def worker_metrics_environment(metrics_port: int) -> Iterator[Path]:
    """Point prometheus_client and Dramatiq at one folder, before any fork.

    The operator may name the folder (``PROMETHEUS_MULTIPROC_DIR`` or
    ``dramatiq_prom_db``, e.g. an ``emptyDir`` in Kubernetes); its metric files
    are removed first, as prometheus_client asks, so that a restarted worker
    does not add the counts of the processes before it. Otherwise the folder
    is a fresh one per run, removed at exit. ``dramatiq_prom_port`` defaults
    to ``metrics_port`` (``[worker] metrics_port``).
    """
    given = os.environ.get(FOLDER_VARIABLE) or os.environ.get(DRAMATIQ_FOLDER_VARIABLE)
    if _counting_in_memory():
        raise MetricsSetupError(_imported_too_early())
    folder = Path(given or tempfile.mkdtemp(prefix="certrenew-worker-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()

    os.environ[FOLDER_VARIABLE] = str(folder)
    os.environ[DRAMATIQ_FOLDER_VARIABLE] = str(folder)
    os.environ.setdefault(DRAMATIQ_PORT_VARIABLE, str(metrics_port))
    try:
        yield folder
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)


def require_multiprocess_values() -> None:
    """Refuse to run a worker process whose metrics stay in its memory.

    Raises ``MetricsSetupError`` when prometheus_client was imported before
    ``PROMETHEUS_MULTIPROC_DIR`` was set (or it is not set at all).
    """
    import prometheus_client  # noqa: PLC0415, F401 (loads it if nothing did yet)

    if FOLDER_VARIABLE not in os.environ or _counting_in_memory():
        raise MetricsSetupError(_imported_too_early())


def _counting_in_memory() -> bool:
    """True when prometheus_client is loaded and keeps values in memory."""
    values = sys.modules.get("prometheus_client.values")
    if values is None:
        return False
    return bool(values.ValueClass is values.MutexValue)


def _imported_too_early() -> str:
    return (
        "worker metrics: prometheus_client was imported before "
        f"{FOLDER_VARIABLE} was set, so this process would count in memory and "
        "the metrics port would serve nothing; set the folder before importing "
        "certrenew.metrics.work (see certrenew.metrics.multiprocess)"
    )
