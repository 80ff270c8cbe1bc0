"""The metric names certrenew exposes: the one list the deploy checks use.

The Grafana dashboard and the alert rules may query only these. A test that
scrapes a running scheduler and worker checks the same list against what they
really expose, so a renamed metric breaks the build instead of a dashboard.
"""

from __future__ import annotations

import re

CERTRENEW_METRICS = frozenset(
    {
        "certrenew_certificate_expiration_timestamp_seconds",
        "certrenew_certificate_renewal_due_timestamp_seconds",
        "certrenew_certificate_install_window_opens_timestamp_seconds",
        "certrenew_certificates",
        "certrenew_renewals_total",
        "certrenew_orders_submitted_total",
        "certrenew_renewal_duration_seconds",
        "certrenew_renewals_in_flight",
        "certrenew_renewal_pending_oldest_seconds",
        "certrenew_renewals_pending_overdue",
        "certrenew_dead_letters",
        "certrenew_queue_messages",
        "certrenew_api_requests_total",
        "certrenew_api_request_duration_seconds",
        "certrenew_api_rate_limited_total",
        "certrenew_rate_budget_wait_seconds_total",
        "certrenew_api_key_rejected",
        "certrenew_scan_last_success_timestamp_seconds",
        "certrenew_sync_last_success_timestamp_seconds",
        "certrenew_scan_duration_seconds",
        "certrenew_scan_entries",
        "certrenew_scheduler_leader",
    }
)

# Dramatiq's Prometheus middleware (dramatiq/middleware/prometheus.py).
DRAMATIQ_METRICS = frozenset(
    {
        "dramatiq_messages_total",
        "dramatiq_message_errors_total",
        "dramatiq_message_retries_total",
        "dramatiq_message_rejects_total",
        "dramatiq_messages_inprogress",
        "dramatiq_delayed_messages_inprogress",
        "dramatiq_message_duration_milliseconds",
    }
)

HISTOGRAMS = frozenset(
    {
        "certrenew_renewal_duration_seconds",
        "certrenew_api_request_duration_seconds",
        "dramatiq_message_duration_milliseconds",
    }
)

KNOWN_METRICS = CERTRENEW_METRICS | DRAMATIQ_METRICS

_HISTOGRAM_SERIES_SUFFIXES = ("_bucket", "_sum", "_count")

# A metric name in PromQL: ours all start with one of these two prefixes, so
# functions, label names and keywords never match.
_METRIC_IN_PROMQL = re.compile(r"\b(?:certrenew|dramatiq)_[a-zA-Z0-9_:]*")


def metrics_in_promql(expression: str) -> set[str]:
    """The certrenew and Dramatiq metric names an expression queries."""
    return set(_METRIC_IN_PROMQL.findall(expression))


def is_known_metric(series_name: str) -> bool:
    """True for a known metric, or a series of a known histogram."""
    if series_name in KNOWN_METRICS:
        return True
    for suffix in _HISTOGRAM_SERIES_SUFFIXES:
        base = series_name.removesuffix(suffix)
        if base != series_name and base in HISTOGRAMS:
            return True
    return False
