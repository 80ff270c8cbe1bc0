from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sandbox import SandboxServer
from tests.support.redis_server import RedisServer
from tests.support.runtimes import runtime_at_sandbox
from tests.support.sandbox import sandbox  # noqa: F401 - shared fixture
from worker.runtime import Runtime


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the whole run; a failure to start fails the run."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client on a database emptied before each test."""
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def runtime_on_redis(
    sandbox: SandboxServer,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
) -> Iterator[Runtime]:
    """Renews the certificates in ``tmp_path`` at the sandbox, on the run's
    redis-server (emptied first, by ``redis_client``)."""
    runtime = runtime_at_sandbox(sandbox, tmp_path, redis_url=redis_server.url)
    yield runtime
    runtime.close()
