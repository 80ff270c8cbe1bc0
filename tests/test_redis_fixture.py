from __future__ import annotations

import redis

from tests.support.redis_server import RedisServer


def test_each_test_starts_with_an_empty_database(redis_client: redis.Redis) -> None:
    assert redis_client.dbsize() == 0
    redis_client.set("certrenew:probe", "1")
    assert redis_client.dbsize() == 1


def test_the_database_is_emptied_between_tests(redis_client: redis.Redis) -> None:
    assert redis_client.get("certrenew:probe") is None


def test_a_restarted_server_answers_on_the_same_port() -> None:
    server = RedisServer()
    server.start()
    port = server.port
    server.restart()
    assert server.port == port
    assert server.client().ping()
    server.stop()
