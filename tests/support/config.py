"""The configuration file that process tests give `certrenew` commands."""

from __future__ import annotations

from pathlib import Path


def write_config(
    path: Path,
    *,
    redis_url: str,
    base_url: str,
    folder: Path,
    http_port: int = 0,
    metrics_port: int = 0,
    redelivery_after_seconds: float = 60,
) -> None:
    """Quick intervals and short backoffs, so a test sees minutes in seconds."""
    path.write_text(
        f"""
[certcentral]
base_url = "{base_url}"

[redis]
url = "{redis_url}"

[[inventory]]
kind = "files"
path = "{folder}"

[scheduler]
scan_interval_seconds = 1
sync_interval_seconds = 1
lock_lease_seconds = 2
http_host = "127.0.0.1"
http_port = {http_port}

[worker]
metrics_port = {metrics_port}
redelivery_after_seconds = {redelivery_after_seconds}

[retry]
min_backoff_seconds = 0.2
max_backoff_seconds = 2

[logging]
format = "json"
level = "info"
"""
    )
