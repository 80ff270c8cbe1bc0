"""Fixtures for the shared state: each runs on a real redis-server and on fakeredis.

The embedded mode (``certrenew run`` without a Redis URL) runs the same Lua
scripts on fakeredis through lupa, so every script is exercised on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import fakeredis
import pytest
import redis

from tests.support.redis_server import RedisServer
from worker.ledger import Ledger


@pytest.fixture(params=["redis-server", "fakeredis"])
def store(request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    """A client on an empty store: the real server, then fakeredis."""
    if request.param == "fakeredis":
        client: redis.Redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        yield client
        client.close()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    client = server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


@pytest.fixture
def ledger(store: redis.Redis) -> Ledger:
    return Ledger(store)
