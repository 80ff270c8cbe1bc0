"""Starting a certrenew process: settings, logging, Redis, broker, runtime.

Dramatiq actors bind to the global broker when their module is imported, and
the scheduler's modules import them early; so once the broker exists, every
actor is bound to it here, whatever was imported first.
"""

from __future__ import annotations

import importlib

import structlog

from certrenew.config import Settings
from certrenew.inventory import InventorySource
from worker.broker import connect, install_broker
from worker.runtime import Runtime, install_runtime

log = structlog.get_logger(__name__)


def start_runtime(
    settings: Settings, *, sources: dict[str, InventorySource] | None = None
) -> Runtime:
    """Connect to Redis (or start the embedded store) and load the actors."""
    client = connect(settings)
    embedded = settings.redis.url is None
    if embedded:
        log.warning(
            "embedded_store",
            detail="no [redis] url configured: using an in-process store; its "
            "queues and ledger live only as long as this process",
        )
    broker = install_broker(settings, client)
    actors = importlib.import_module("worker.actors")
    for actor in (actors.renew_certificate, actors.collect_certificate):
        actor.broker = broker
        broker.declare_actor(actor)
    runtime = Runtime(settings=settings, redis=client, embedded=embedded,
                      sources=sources or {})  # fmt: skip
    install_runtime(runtime)
    return runtime
