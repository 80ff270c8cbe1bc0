"""The Dramatiq broker and the Redis connection every part of a process shares.

With ``[redis] url`` set, the broker, the ledger and the rate budget use that
Redis. Without it, certrenew runs embedded: an in-process Redis-compatible store
(fakeredis, with Lua) stands in, so the same code paths run on one machine with
no server to operate. Embedded state lives as long as the process; the lookup by
``alternative_order_id`` before ordering is what still prevents a twin order
after a restart.

``certrenew worker`` also exposes metrics: Dramatiq's Prometheus middleware
serves every worker process's metrics (its own and certrenew's counters) on
one port, through prometheus_client's multi-process mode. This module imports
certrenew's counters (through ``worker.failures``), hence prometheus_client:
the folder must be set before it is imported (``certrenew.metrics.multiprocess``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
import redis
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Retries

from certrenew.config import Settings
from certrenew.errors import PermanentError, TransientError
from certrenew.metrics.multiprocess import require_multiprocess_values
from worker.failures import RecordFailures

log = structlog.get_logger(__name__)

NAMESPACE = "dramatiq"
QUEUE = "certrenew"
# Dramatiq keeps dead letters this long; the ledger keeps failed renewals for good.
DEAD_LETTER_TTL_MS = 7 * 24 * 3600 * 1000
# An error we did not foresee (a bug, not the API) is retried a few times only.
UNEXPECTED_ERROR_RETRIES = 3
# Per million broker commands, how many also run Dramatiq's maintenance, which
# puts a dead worker's unacknowledged messages back in the queue. An idle
# worker polls its two queues about twice a second, so at 2% a killed worker's
# messages waited 25 s on average (and often a minute) past ``[worker]
# redelivery_after_seconds``; at 20% the wait is a few seconds. The maintenance
# itself is cheap: one look at the heartbeats and the dead letters' scores.
MAINTENANCE_CHANCE_PER_MILLION = 200_000
# How long sending a message waits for Redis to come back before it gives up.
ENQUEUE_PATIENCE_SECONDS = 60.0
ENQUEUE_RETRY_INTERVAL_SECONDS = 0.5


def should_retry(retries: int, error: BaseException) -> bool:
    """Dramatiq's retry predicate: how each kind of failure is treated.

    Transient failures (and Redis being out of reach) retry with backoff; the
    actors themselves turn them into permanent ones once the certificate is too
    close to expiry to keep waiting.
    """
    if isinstance(error, PermanentError):
        return False
    if isinstance(error, TransientError | dramatiq.Retry):
        return True
    if isinstance(error, redis.ConnectionError | redis.TimeoutError):
        return True  # Redis restarting: the step picks up from the ledger
    return retries < UNEXPECTED_ERROR_RETRIES


def connect(settings: Settings) -> redis.Redis:
    """A client for the configured Redis, or for a new embedded store."""
    if settings.redis.url is None:
        # Loaded only here: fakeredis (with redis.asyncio behind it) adds about
        # 0.4 s to every process's start-up, and only the embedded mode uses
        # it (python -X importtime; bench/startup.py).
        import fakeredis  # noqa: PLC0415

        embedded: redis.Redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        return embedded
    return redis.Redis.from_url(
        settings.redis.url,
        health_check_interval=30,
        socket_keepalive=True,
        socket_timeout=30,
        retry_on_timeout=True,
    )


class PatientRedisBroker(RedisBroker):
    """A RedisBroker whose sends wait out a short Redis outage, and can batch.

    Dramatiq re-sends a message to retry it from a middleware hook, and a hook
    that raises is only logged: a retry sent while Redis restarts was lost, and
    its renewal stranded in flight with no message (the chaos test found it).
    The scheduler's send after a claim had the same gap. So a send that cannot
    reach Redis tries again for up to ``ENQUEUE_PATIENCE_SECONDS``, holding its
    thread: while Redis is away no other work can move anyway.

    Inside ``batched_sends()`` a thread's sends go to Redis together, in one
    round trip at the end of the block: one round trip per message was most of
    the cost of queueing a scan's renewals (bench/queueing.py).
    """

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        self._batch = threading.local()

    @contextmanager
    def batched_sends(self) -> Iterator[None]:
        pipeline = self.client.pipeline(transaction=False)
        self._batch.pipeline = pipeline
        try:
            yield
        finally:
            # Sent even if the block failed: what it queued was claimed.
            self._batch.pipeline = None
            self._patiently(pipeline.execute)

    def do_enqueue(self, queue_name: str, message_id: str, data: bytes) -> object:
        pipeline = getattr(self._batch, "pipeline", None)
        if pipeline is None:
            return self._patiently(
                lambda: self._dispatch("enqueue")(queue_name, message_id, data)
            )
        # The same call as Dramatiq's own dispatch (brokers/redis.py,
        # ``_dispatch``), into the pipeline instead of straight to Redis.
        self.scripts["dispatch"](
            keys=[self.namespace],
            args=[
                "enqueue",
                int(time.time() * 1000),
                queue_name,
                self.broker_id,
                self.heartbeat_timeout,
                self.dead_message_ttl,
                self._should_do_maintenance("enqueue"),
                self._max_unpack_size(),
                message_id,
                data,
            ],
            client=pipeline,
        )
        return None

    def _patiently(self, send: Callable[[], object]) -> object:
        deadline = time.monotonic() + ENQUEUE_PATIENCE_SECONDS
        while True:
            try:
                return send()
            except redis.ConnectionError as error:
                if time.monotonic() >= deadline:
                    raise
                log.warning("enqueue_waiting_for_redis", error=str(error))
                time.sleep(ENQUEUE_RETRY_INTERVAL_SECONDS)


def build_broker(settings: Settings, client: redis.Redis) -> RedisBroker:
    """A Redis broker over ``client`` with certrenew's middleware."""
    broker = PatientRedisBroker(
        client=client,
        namespace=NAMESPACE,
        dead_message_ttl=DEAD_LETTER_TTL_MS,
        # A worker killed without acknowledging its messages is considered dead
        # once its heartbeat is this old; its messages are then delivered again.
        heartbeat_timeout=int(settings.worker.redelivery_after_seconds * 1000),
        maintenance_chance=MAINTENANCE_CHANCE_PER_MILLION,
    )
    for middleware in list(broker.middleware):
        if isinstance(middleware, Retries):
            broker.middleware.remove(middleware)
    # Dramatiq runs the "after" hooks in reverse order (Broker.emit_after):
    # RecordFailures goes in before Retries so that its hook runs after
    # Retries' and sees the decision to dead-letter a message.
    broker.add_middleware(RecordFailures())
    broker.add_middleware(
        Retries(
            retry_when=should_retry,
            min_backoff=int(settings.retry.min_backoff_seconds * 1000),
            max_backoff=int(settings.retry.max_backoff_seconds * 1000),
        )
    )
    broker.add_middleware(CurrentMessage())
    return broker


def add_worker_metrics(broker: dramatiq.Broker) -> None:
    """Add Dramatiq's Prometheus middleware (worker processes only).

    Refuses (``MetricsSetupError``) when this process counts in memory, where
    the exposition server cannot see. Imported here: the middleware's module
    reads its host, port and folder from the environment when it loads, which
    ``certrenew.metrics.multiprocess.worker_metrics_environment`` prepared.
    """
    require_multiprocess_values()
    from dramatiq.middleware.prometheus import Prometheus  # noqa: PLC0415

    broker.add_middleware(Prometheus())


def install_broker(settings: Settings, client: redis.Redis) -> RedisBroker:
    """Build the broker and make it Dramatiq's global one, before actors load."""
    broker = build_broker(settings, client)
    dramatiq.set_broker(broker)
    return broker
