"""What one worker process holds for its whole life, built once.

A process has one Redis connection pool, one HTTP client for CertCentral, one
ledger and one view of the rate budget, shared by all of its worker threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property

import redis

from certrenew.config import Settings
from certrenew.errors import InventoryError
from certrenew.inventory import InventorySource
from certrenew.inventory.sources import build_sources
from certrenew.metrics.work import ApiCallMetrics, MeteredRateGate
from worker.certcentral.client import CertCentralClient
from worker.circuit import KeyRejection
from worker.ledger import Ledger
from worker.ratelimit import RateBudget


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    embedded: bool
    sources: dict[str, InventorySource] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.sources:
            self.sources = build_sources(self.settings)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.redis)

    @cached_property
    def budget(self) -> RateBudget:
        windows = [(w.requests, w.seconds) for w in self.settings.rate_limit.windows]
        return RateBudget(self.redis, windows)

    @cached_property
    def key_rejection(self) -> KeyRejection:
        return KeyRejection(self.redis)

    @cached_property
    def client(self) -> CertCentralClient:
        certcentral = self.settings.certcentral
        return CertCentralClient(
            certcentral.base_url,
            certcentral.read_api_key(),
            timeout_seconds=certcentral.timeout_seconds,
            rate_gate=MeteredRateGate(self.budget),
            observer=ApiCallMetrics(),
        )

    def source(self, label: str) -> InventorySource:
        try:
            return self.sources[label]
        except KeyError:
            known = ", ".join(sorted(self.sources)) or "none"
            raise InventoryError(
                f"inventory source {label!r} is not configured (configured: {known})"
            ) from None

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def install_runtime(runtime: Runtime) -> None:
    global _runtime  # noqa: PLW0603 - one runtime per process, set at start-up
    with _runtime_lock:
        _runtime = runtime


def current_runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError(
            "the worker runtime is not installed; start workers with "
            "`certrenew worker` or `certrenew run`"
        )
    return _runtime
