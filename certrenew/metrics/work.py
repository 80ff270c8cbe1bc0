"""Counters of renewals and CertCentral calls, incremented where they happen.

Labels stay bounded: ``action`` is renew, reissue or unknown; ``result`` is
installed or failed; ``endpoint`` is the client's route template
(``GET /order/certificate/{id}``), never a path with ids in it; ``status`` is
the HTTP status code, or ``error`` when no answer came.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from prometheus_client import Counter, Histogram

# Due to installed takes minutes for a DV-like reissue, days for an EV order
# waiting on validation.
RENEWAL_DURATION_BUCKETS_SECONDS = (
    60.0,
    300.0,
    900.0,
    3600.0,
    3 * 3600.0,
    6 * 3600.0,
    12 * 3600.0,
    86400.0,
    2 * 86400.0,
    3 * 86400.0,
    5 * 86400.0,
    7 * 86400.0,
    14 * 86400.0,
    30 * 86400.0,
)
API_DURATION_BUCKETS_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

ACTIONS = frozenset({"renew", "reissue"})
UNKNOWN_ACTION = "unknown"
NO_ANSWER_STATUS = "error"
TOO_MANY_REQUESTS = 429

RENEWALS = Counter(
    "certrenew_renewals",
    "Renewals that ended, by action (renew, reissue) and result (installed, failed).",
    ["action", "result"],
)
ORDERS_SUBMITTED = Counter(
    "certrenew_orders_submitted",
    "Orders and reissues accepted by CertCentral, by action.",
    ["action"],
)
RENEWAL_DURATION = Histogram(
    "certrenew_renewal_duration_seconds",
    "Time from a certificate coming due to its replacement being installed.",
    buckets=RENEWAL_DURATION_BUCKETS_SECONDS,
)
API_REQUESTS = Counter(
    "certrenew_api_requests",
    "CertCentral API calls by endpoint (route template) and HTTP status.",
    ["endpoint", "status"],
)
API_REQUEST_DURATION = Histogram(
    "certrenew_api_request_duration_seconds",
    "CertCentral API call latency by endpoint (route template).",
    ["endpoint"],
    buckets=API_DURATION_BUCKETS_SECONDS,
)
API_RATE_LIMITED = Counter(
    "certrenew_api_rate_limited",
    "CertCentral answers 429 Too Many Requests.",
)
RATE_BUDGET_WAIT = Counter(
    "certrenew_rate_budget_wait_seconds",
    "Seconds spent waiting for the shared API rate budget before calls.",
)


def action_label(action: str | None) -> str:
    """The action as a bounded label: renew, reissue or unknown."""
    return action if action in ACTIONS else UNKNOWN_ACTION


def count_installed(action: str | None, *, due_at: datetime, now: datetime) -> None:
    """A renewal ended with its new certificate installed."""
    RENEWALS.labels(action_label(action), "installed").inc()
    RENEWAL_DURATION.observe(max(0.0, (now - due_at).total_seconds()))


def count_failed(action: str | None) -> None:
    """A renewal failed for good (it waits in the dead letters)."""
    RENEWALS.labels(action_label(action), "failed").inc()


def count_order_submitted(action: str) -> None:
    ORDERS_SUBMITTED.labels(action_label(action)).inc()


class ApiCallMetrics:
    """The client's ``CallObserver``: counts every call, its latency and 429s."""

    def observe(
        self, endpoint: str, status: int | None, duration_seconds: float
    ) -> None:
        status_label = NO_ANSWER_STATUS if status is None else str(status)
        API_REQUESTS.labels(endpoint, status_label).inc()
        API_REQUEST_DURATION.labels(endpoint).observe(duration_seconds)
        if status == TOO_MANY_REQUESTS:
            API_RATE_LIMITED.inc()


class RateGate(Protocol):
    """What ``MeteredRateGate`` wraps: the shared rate budget."""

    def acquire(self, *, max_wait_seconds: float) -> float: ...


class MeteredRateGate:
    """A rate gate that adds the seconds each granted call waited to a counter.

    A wait that ends in ``RateBudgetTimeout`` is not counted: the budget does
    not say how long it slept before giving up, and the message is deferred.
    """

    def __init__(self, gate: RateGate) -> None:
        self._gate = gate

    def acquire(self, *, max_wait_seconds: float) -> float:
        waited_seconds = self._gate.acquire(max_wait_seconds=max_wait_seconds)
        RATE_BUDGET_WAIT.inc(waited_seconds)
        return waited_seconds
