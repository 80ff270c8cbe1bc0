"""The API-call observer and the metered rate gate (certrenew/metrics/work.py).

They count on prometheus_client's default registry, which the whole test
process shares: each test reads the counters before and after, and asserts
the difference, under labels no other test uses.
"""

from __future__ import annotations

import pytest
import redis
from prometheus_client import REGISTRY

from certrenew.metrics.work import ApiCallMetrics, MeteredRateGate
from worker.ratelimit import RateBudget, RateBudgetTimeout


def read(metric: str, /, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def test_a_call_is_counted_by_route_template_and_status_with_its_latency() -> None:
    endpoint = "GET /order/certificate/{id} (observer test)"
    before = read("certrenew_api_requests_total", endpoint=endpoint, status="200")
    limited_before = read("certrenew_api_rate_limited_total")

    ApiCallMetrics().observe(endpoint, 200, 0.3)
    ApiCallMetrics().observe(endpoint, 200, 0.2)

    after = read("certrenew_api_requests_total", endpoint=endpoint, status="200")
    assert after - before == 2
    latency_count = read(
        "certrenew_api_request_duration_seconds_count", endpoint=endpoint
    )
    latency_sum = read("certrenew_api_request_duration_seconds_sum", endpoint=endpoint)
    assert latency_count == 2
    assert latency_sum == pytest.approx(0.5)
    # Both calls were quicker than the 0.5 s bucket and slower than 0.1 s.
    assert (
        read(
            "certrenew_api_request_duration_seconds_bucket",
            endpoint=endpoint,
            le="0.5",
        )
        == 2
    )
    assert (
        read(
            "certrenew_api_request_duration_seconds_bucket",
            endpoint=endpoint,
            le="0.1",
        )
        == 0
    )
    assert read("certrenew_api_rate_limited_total") == limited_before


def test_a_429_answer_also_counts_as_rate_limited() -> None:
    endpoint = "POST /order/certificate/{product} (429 test)"
    before = read("certrenew_api_rate_limited_total")

    ApiCallMetrics().observe(endpoint, 429, 0.01)

    assert read("certrenew_api_rate_limited_total") - before == 1
    assert read("certrenew_api_requests_total", endpoint=endpoint, status="429") == 1


def test_a_call_without_an_answer_is_counted_under_status_error() -> None:
    endpoint = "GET /order/certificate (no answer test)"

    ApiCallMetrics().observe(endpoint, None, 30.0)

    assert read("certrenew_api_requests_total", endpoint=endpoint, status="error") == 1
    assert read("certrenew_api_request_duration_seconds_count", endpoint=endpoint) == 1


def test_the_metered_gate_adds_the_time_each_granted_call_waited(
    redis_client: redis.Redis,
) -> None:
    # One call per 0.2 s: the second call must wait for the first to age out.
    budget = RateBudget(redis_client, [(1, 0.2)], key="certrenew:rate:metered")
    gate = MeteredRateGate(budget)
    before = read("certrenew_rate_budget_wait_seconds_total")

    first = gate.acquire(max_wait_seconds=5)
    second = gate.acquire(max_wait_seconds=5)

    assert second > 0
    total = read("certrenew_rate_budget_wait_seconds_total") - before
    assert total == pytest.approx(first + second)


def test_a_wait_that_times_out_adds_nothing(redis_client: redis.Redis) -> None:
    budget = RateBudget(redis_client, [(1, 60)], key="certrenew:rate:timeout")
    gate = MeteredRateGate(budget)
    gate.acquire(max_wait_seconds=1)
    before = read("certrenew_rate_budget_wait_seconds_total")

    with pytest.raises(RateBudgetTimeout):
        gate.acquire(max_wait_seconds=0.5)

    assert read("certrenew_rate_budget_wait_seconds_total") == before
