"""The scheduler's Kubernetes probes while its Redis goes away and comes back:
a real `certrenew scheduler` over a redis-server of its own, which the test
stops and starts again."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import CertrenewProcess, wait_until
from tests.support.redis_server import RedisServer, free_port
from tests.support.sandbox import TEST_API_KEY

pytestmark = pytest.mark.slow


def probe(url: str) -> tuple[int, str]:
    answer = httpx.get(url, timeout=10)
    return answer.status_code, answer.text


@pytest.fixture
def scheduler_and_redis() -> Iterator[tuple[str, RedisServer]]:
    """A scheduler's base URL and the redis-server only it uses."""
    folder = Path(tempfile.mkdtemp(prefix="certrenew-probes-"))
    (folder / "inventory").mkdir()
    server = RedisServer()
    server.start()
    http_port = free_port()
    config = folder / "certrenew.toml"
    # Nothing to renew: the API (an unused loopback port) is never called.
    config.write_text(
        f"""
[certcentral]
base_url = "http://127.0.0.1:{free_port()}/services/v2"

[redis]
url = "{server.url}"

[[inventory]]
kind = "files"
path = "{folder / "inventory"}"

[scheduler]
http_host = "127.0.0.1"
http_port = {http_port}
"""
    )
    scheduler = CertrenewProcess("scheduler", config, folder, api_key=TEST_API_KEY)
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_until(
            lambda: _answers(f"{url}/readyz"),
            timeout_seconds=30,
            what="the scheduler's HTTP server",
        )
        yield url, server
    finally:
        assert scheduler.terminate() == 0, scheduler.output()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        return probe(url)[0] == 200
    except httpx.TransportError:
        return False


def test_readiness_fails_with_the_reason_while_redis_is_down_and_liveness_holds(
    scheduler_and_redis: tuple[str, RedisServer],
) -> None:
    url, server = scheduler_and_redis

    server.stop()
    down_ready = probe(f"{url}/readyz")
    down_alive = probe(f"{url}/healthz")
    server.start()
    wait_until(
        lambda: probe(f"{url}/readyz")[0] == 200,
        timeout_seconds=30,
        what="readiness once Redis is back",
    )

    status, reason = down_ready
    assert status == 503
    assert reason.startswith("redis unreachable: ")
    assert str(server.port) in reason
    assert down_alive == (200, "ok\n")
    assert probe(f"{url}/readyz") == (200, "ready\n")
