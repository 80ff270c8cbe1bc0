"""What a worker checks and builds when it starts, before it takes a message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.config import write_config
from tests.support.redis_server import RedisServer

# What `certrenew worker` sets up, then what each Dramatiq worker process
# does first: import certrenew's entrypoint.
WORKER_PROCESS_BOOT = """
import sys
from certrenew.metrics.multiprocess import worker_metrics_environment
with worker_metrics_environment(9191):
    import worker.entrypoint as entrypoint
built = sorted(
    part for part in ("ledger", "renewal_lock", "api_gate", "client")
    if part in vars(entrypoint.runtime)
)
print(",".join(built), "httpcore" in sys.modules)
"""


def clean_environment(**extra: str) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CERTRENEW_", "dramatiq_"))
    }
    return {**inherited, **extra}


def test_a_worker_without_an_api_key_stops_before_starting_naming_the_setting(
    tmp_path: Path,
) -> None:
    config = tmp_path / "certrenew.toml"
    # Nothing listens on port 9: the worker must stop before reaching Redis.
    write_config(
        config,
        redis_url="redis://127.0.0.1:9/0",
        base_url="http://127.0.0.1:9",
        folder=tmp_path,
    )

    result = subprocess.run(
        [sys.executable, "-m", "certrenew", "worker", "--config", str(config)],
        capture_output=True,
        text=True,
        env=clean_environment(),
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "certrenew: configuration error: certcentral.api_key_file: no API key "
        "configured; set api_key_file to a file holding it, or "
        "CERTRENEW_CERTCENTRAL__API_KEY"
    ]


def test_a_worker_process_builds_its_client_and_ledger_before_any_message(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    config = tmp_path / "certrenew.toml"
    write_config(
        config,
        redis_url=redis_server.url,
        base_url="http://127.0.0.1:9",
        folder=tmp_path,
    )
    environment = clean_environment(
        CERTRENEW_CONFIG=str(config),
        CERTRENEW_CERTCENTRAL__API_KEY="worker-start-key",
    )

    result = subprocess.run(
        [sys.executable, "-c", WORKER_PROCESS_BOOT],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    # The HTTP stack is loaded at boot, not in the first renewal's time.
    assert result.stdout.split() == ["api_gate,client,ledger,renewal_lock", "True"]
