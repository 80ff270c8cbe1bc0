"""What one worker process holds for its whole life, built once.

A process has one Redis connection pool, one HTTP client for CertCentral, one
ledger and one view of the rate budget, shared by all of its worker threads.

Every CertCentral call of the process passes one gate before it leaves
(``ApiGate``, the client's rate gate): first the rejected-key breaker, then the
shared rate budget. The gate sits there, and not around the actors' steps,
because that is the one place every call passes, the scheduler's status sync
included, and because one step makes several calls: a breaker tripped by
another worker in the middle of a step must stop the next call, not the next
step. The gate also hears how every call ended, and a success lifts the breaker.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

import redis

from certrenew.config import Settings
from certrenew.errors import InventoryError, TransientError
from certrenew.inventory import InventorySource
from certrenew.inventory.sources import build_sources
from certrenew.metrics.work import ApiCallMetrics, MeteredRateGate
from worker.certcentral.client import CertCentralClient
from worker.circuit import KeyRejection
from worker.ledger import Ledger
from worker.ratelimit import RateBudget
from worker.renewal_lock import RenewalLock

# How long a process trusts a look at the breaker that found no rejection: a
# rejection tripped by another process stops this one's calls at most this
# much later (worker/circuit.py). Each API call would otherwise cost two more
# Redis round trips.
KEY_REJECTION_KNOWN_CLEAR_SECONDS = 1.0


class ApiPaused(TransientError):
    """No API call now: DigiCert rejected the key and the pause is not over."""


class ApiGate:
    """The client's rate gate and call observer: the breaker, then the budget.

    Every call also passes the metrics: the time spent waiting for the budget,
    and each answer by endpoint and status.
    """

    def __init__(self, budget: RateBudget, key_rejection: KeyRejection) -> None:
        self._budget = MeteredRateGate(budget)
        self._key_rejection = key_rejection
        self._metrics = ApiCallMetrics()

    def acquire(self, *, max_wait_seconds: float) -> float:
        now = datetime.now(UTC)
        if not self._key_rejection.may_call(now):
            raise _paused(self._key_rejection, now)
        return self._budget.acquire(max_wait_seconds=max_wait_seconds)

    def observe(
        self, endpoint: str, status: int | None, duration_seconds: float
    ) -> None:
        self._metrics.observe(endpoint, status, duration_seconds)
        # Any answer but a refusal proves the key is good again (the probe's,
        # or a call that started before the breaker tripped).
        if status is not None and status < 400:
            self._key_rejection.clear()


def _paused(key_rejection: KeyRejection, now: datetime) -> ApiPaused:
    rejection = key_rejection.current(now)
    if rejection is None:
        # Lifted between the two reads: come back at once.
        return ApiPaused("API calls were paused; resuming", retry_after_seconds=0)
    wait_seconds = max((rejection.retry_at - now).total_seconds(), 0.0)
    return ApiPaused(
        f"API calls paused since {rejection.since:%Y-%m-%d %H:%M:%S} UTC: DigiCert "
        f"rejected the API key ({rejection.code}: {rejection.message}); next "
        f"probe at {rejection.retry_at:%H:%M:%S} UTC",
        retry_after_seconds=wait_seconds,
    )


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
        limits = self.settings.rate_limit
        allowance = limits.latency_allowance_seconds
        windows = [(w.requests, w.seconds + allowance) for w in limits.windows]
        return RateBudget(self.redis, windows, headroom=1 - limits.reserve_fraction)

    @cached_property
    def key_rejection(self) -> KeyRejection:
        return KeyRejection(
            self.redis, known_clear_seconds=KEY_REJECTION_KNOWN_CLEAR_SECONDS
        )

    @cached_property
    def renewal_lock(self) -> RenewalLock:
        lease_seconds = self.settings.worker.redelivery_after_seconds
        return RenewalLock(self.redis, lease_seconds=lease_seconds)

    @cached_property
    def api_gate(self) -> ApiGate:
        return ApiGate(self.budget, self.key_rejection)

    @cached_property
    def client(self) -> CertCentralClient:
        certcentral = self.settings.certcentral
        return CertCentralClient(
            certcentral.base_url,
            certcentral.read_api_key(),
            timeout_seconds=certcentral.timeout_seconds,
            rate_gate=self.api_gate,
            observer=self.api_gate,
        )

    def prepare(self) -> None:
        """Build the parts every renewal uses before the first one arrives.

        The HTTP client loads httpx's transport and a TLS context, which take
        a worker process a few hundred milliseconds; at start-up rather than
        inside the first renewals it takes, and an unreadable API key stops
        the process before it takes any.
        """
        # Reading a cached property builds it, once for the process.
        for part in ("ledger", "renewal_lock", "api_gate", "client"):
            getattr(self, part)

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
        for source in self.sources.values():
            source.close()


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
