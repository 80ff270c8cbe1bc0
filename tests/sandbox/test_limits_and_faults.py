"""Rate limits and injected faults, over real HTTP."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox import FaultSettings, RateLimit
from tests.support.sandbox import (
    EV_PRODUCT,
    admin_client,
    api_client,
    order_body,
    running_sandbox,
)

ORDER = f"/order/certificate/{EV_PRODUCT}"


def wait_until_allowed(client: httpx.Client, deadline_seconds: float) -> int:
    """Polls until a request passes; the status of the last answer."""
    deadline = time.monotonic() + deadline_seconds
    status = 429
    while status == 429 and time.monotonic() < deadline:
        time.sleep(0.05)
        status = client.get("/organization").status_code
    return status


def test_the_101st_request_inside_the_window_gets_429_until_the_window_frees() -> None:
    # time_scale 2: the 5-second window lasts 2.5 seconds.
    with running_sandbox(time_scale=2) as server, api_client(server) as client:
        statuses = [client.get("/organization").status_code for _ in range(101)]
        refused = client.get("/organization")
        freed = wait_until_allowed(client, deadline_seconds=5)
        counted = admin_client(server).get("/requests").json()

    assert statuses[:100] == [200] * 100
    assert statuses[100] == 429
    assert refused.json()["errors"][0]["code"] == "request_limit_exceeded"
    assert freed == 200
    assert counted["rate_limited"] >= 2


def test_the_long_window_limits_too_and_each_key_has_its_own_budget() -> None:
    limits = (RateLimit(100, 5.0), RateLimit(20, 180.0))
    with (
        running_sandbox(api_keys=("one", "two"), rate_limits=limits) as server,
        api_client(server, "one") as first,
        api_client(server, "two") as second,
    ):
        statuses = [first.get("/organization").status_code for _ in range(21)]
        other_key = second.get("/organization").status_code

    assert statuses[:20] == [200] * 20
    assert statuses[20] == 429
    assert other_key == 200


def test_a_429_storm_refuses_the_next_requests_then_stops() -> None:
    with running_sandbox() as server, api_client(server) as client:
        admin_client(server).put("/faults", json={"storm_429_requests": 3})
        statuses = [client.get("/organization").status_code for _ in range(4)]

    assert statuses == [429, 429, 429, 200]


def test_a_429_carries_retry_after_only_when_configured() -> None:
    with running_sandbox() as server, api_client(server) as client:
        admin = admin_client(server)
        admin.put("/faults", json={"storm_429_requests": 1})
        plain = client.get("/organization")
        admin.put("/faults", json={"storm_429_requests": 1, "retry_after_seconds": 7})
        told = client.get("/organization")

    assert plain.status_code == told.status_code == 429
    assert "Retry-After" not in plain.headers
    assert told.headers["Retry-After"] == "7"


def test_an_error_rate_answers_5xx_with_an_errors_body_reproducibly() -> None:
    def statuses(seed: int) -> list[int]:
        faults = FaultSettings(error_rate=0.5)
        with (
            running_sandbox(faults=faults, seed=seed) as server,
            api_client(server) as client,
        ):
            return [client.get("/organization").status_code for _ in range(20)]

    first, again = statuses(7), statuses(7)

    assert first == again
    assert {500 <= status < 600 for status in first} == {True, False}


def test_a_dropped_connection_still_creates_the_order(csr: str) -> None:
    faults = FaultSettings(drop_after_create_rate=1.0)
    with running_sandbox(faults=faults) as server, api_client(server) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(ORDER, json=order_body(csr, alternative_order_id="once"))
        found = client.get("/order/alternate/once").json()
        placed = admin_client(server).get("/orders").json()["orders"]

    assert len(placed) == 1
    assert found["orders"][0]["order_id"] == placed[0]["id"]


def test_added_latency_delays_answers() -> None:
    with running_sandbox() as server, api_client(server) as client:
        admin_client(server).put("/faults", json={"latency_ms": 300})
        started = time.monotonic()
        client.get("/organization")
        elapsed = time.monotonic() - started

    assert elapsed >= 0.3


def test_fault_settings_are_read_back_and_bad_ones_refused() -> None:
    with running_sandbox() as server, admin_client(server) as admin:
        admin.put("/faults", json={"error_rate": 0.25})
        current = admin.get("/faults").json()
        bad = admin.put("/faults", json={"error_rate": 2})
        unknown = admin.put("/faults", json={"chaos": 1})

    assert current["error_rate"] == 0.25
    assert bad.status_code == 400
    assert "between 0 and 1" in bad.json()["errors"][0]["message"]
    assert "unknown setting 'chaos'" in unknown.json()["errors"][0]["message"]


def test_requests_are_counted_by_route_template_and_status(csr: str) -> None:
    with running_sandbox() as server, api_client(server) as client:
        order_id = client.post(ORDER, json=order_body(csr)).json()["id"]
        client.get(f"/order/certificate/{order_id}")
        client.get("/order/certificate/12345")
        counted = admin_client(server).get("/requests").json()

    rows = {(row["route"], row["status"]): row["count"] for row in counted["requests"]}
    assert rows == {
        ("POST /order/certificate/{product}", 201): 1,
        ("GET /order/certificate/{id}", 200): 1,
        ("GET /order/certificate/{id}", 404): 1,
    }
    assert counted["total"] == 3
