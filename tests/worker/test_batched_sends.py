"""Sends batched into one round trip arrive together, at the end of the block."""

from __future__ import annotations

import redis

from certrenew.config import RedisSettings, Settings
from tests.support.redis_server import RedisServer
from worker.bootstrap import start_runtime
from worker.broker import PatientRedisBroker

QUEUE = "dramatiq:certrenew"


def test_batched_sends_reach_the_queue_together_when_the_block_ends(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    runtime = start_runtime(Settings(redis=RedisSettings(url=redis_server.url)))
    from worker.actors import renew_certificate

    broker = renew_certificate.broker
    assert isinstance(broker, PatientRedisBroker)
    with broker.batched_sends():
        for number in range(3):
            renew_certificate.send("files:/x", f"host{number}", "A" * 40)
        queued_inside = redis_client.llen(QUEUE)
    queued_after = redis_client.llen(QUEUE)
    renew_certificate.send("files:/x", "alone", "B" * 40)

    assert (queued_inside, queued_after) == (0, 3)
    assert redis_client.llen(QUEUE) == 4
    runtime.close()
