"""The module Dramatiq's worker processes import (``certrenew worker``).

Each worker process reads the settings from ``CERTRENEW_CONFIG`` and the
environment, sets up logging and its runtime (built whole before the first
message), registers the actors and adds Dramatiq's Prometheus middleware,
which refuses to start a process whose metrics would stay in memory
(``certrenew.metrics.multiprocess``).
"""

from __future__ import annotations

import dramatiq

from certrenew.config import load_settings
from certrenew.logs import configure_logging
from worker.bootstrap import start_runtime
from worker.broker import add_worker_metrics

settings = load_settings()
configure_logging(settings.logging, process="worker")
runtime = start_runtime(settings)
runtime.prepare()
add_worker_metrics(dramatiq.get_broker())
