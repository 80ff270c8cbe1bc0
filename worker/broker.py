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

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Retries

from certrenew.config import Settings
from certrenew.errors import PermanentError, TransientError
from certrenew.metrics.multiprocess import require_multiprocess_values
from worker.failures import RecordFailures

NAMESPACE = "dramatiq"
QUEUE = "certrenew"
# Dramatiq keeps dead letters this long; the ledger keeps failed renewals for good.
DEAD_LETTER_TTL_MS = 7 * 24 * 3600 * 1000
# An error we did not foresee (a bug, not the API) is retried a few times only.
UNEXPECTED_ERROR_RETRIES = 3
# Per million broker commands, how many also run Dramatiq's maintenance, which
# puts a dead worker's unacknowledged messages back in the queue. Dramatiq's
# default (1000) can leave them stranded for minutes on a quiet queue, well
# past ``[worker] redelivery_after_seconds``; the maintenance itself is cheap.
MAINTENANCE_CHANCE_PER_MILLION = 20_000


def should_retry(retries: int, error: BaseException) -> bool:
    """Dramatiq's retry predicate: how each kind of failure is treated.

    Transient failures retry with backoff; the actors themselves turn them into
    permanent ones once the certificate is too close to expiry to keep waiting.
    """
    if isinstance(error, PermanentError):
        return False
    if isinstance(error, TransientError | dramatiq.Retry):
        return True
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


def build_broker(settings: Settings, client: redis.Redis) -> RedisBroker:
    """A Redis broker over ``client`` with certrenew's middleware."""
    broker = RedisBroker(
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
