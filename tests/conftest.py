from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.support.redis_server import RedisServer
from tests.support.sandbox import sandbox  # noqa: F401 - shared fixture


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
