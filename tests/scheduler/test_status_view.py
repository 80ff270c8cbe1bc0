"""The status page reads the rows it shows, not every renewal, on a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis

from scheduler.http import StatusServer
from scheduler.service import SchedulerState
from scheduler.status_page import FAILED_SHOWN, IN_FLIGHT_SHOWN
from tests.state.ledger_steps import submit, thumbprint_of
from worker.runtime import Runtime

NOW = datetime.now(UTC)
# More than the page shows of each, so that a page reading everything is seen.
EXTRA = 30


@pytest.fixture
def runtime(runtime_on_redis: Runtime) -> Runtime:
    return runtime_on_redis


@pytest.fixture
def status_url(runtime: Runtime) -> Iterator[str]:
    server = StatusServer(
        runtime, SchedulerState(), holder="test", host="127.0.0.1", port=0
    )
    server.start()
    yield f"http://127.0.0.1:{server.port}/"
    server.stop()


def claim(runtime: Runtime, name: str, at: datetime) -> str:
    thumbprint = thumbprint_of(name)
    runtime.ledger.claim(thumbprint, name=name, source="files:/certs",
                         due_at=at, now=at)  # fmt: skip
    return thumbprint


def record_reads(client: redis.Redis, status_url: str) -> tuple[int, str]:
    """The HGETALLs one load of the page made, and the page."""
    client.config_resetstat()
    page = httpx.get(status_url, timeout=30)
    page.raise_for_status()
    stats = client.info("commandstats").get("cmdstat_hgetall", {"calls": 0})
    return int(stats["calls"]), page.text


def test_the_page_reads_only_the_oldest_rows_it_shows_and_counts_the_rest(
    runtime: Runtime, status_url: str, redis_client: redis.Redis
) -> None:
    # Reads that do not depend on the renewals (the rate budget's, say).
    reads_of_an_empty_ledger, _ = record_reads(redis_client, status_url)
    waiting = IN_FLIGHT_SHOWN + EXTRA
    for number in range(waiting):
        claim(runtime, f"waiting-{number:03}", NOW + timedelta(seconds=number))
    for number in range(FAILED_SHOWN + EXTRA):
        thumbprint = claim(runtime, f"failed-{number:03}", NOW)
        runtime.ledger.record_failed(thumbprint, code="x", message="y",
                                     now=NOW + timedelta(seconds=number))  # fmt: skip

    reads, page = record_reads(redis_client, status_url)

    assert reads - reads_of_an_empty_ledger == IN_FLIGHT_SHOWN + FAILED_SHOWN
    assert f"claimed: {waiting}" in page
    assert f"Failed renewals ({FAILED_SHOWN + EXTRA})" in page
    shown = [number for number in range(waiting) if f"waiting-{number:03}" in page]
    assert shown == list(range(IN_FLIGHT_SHOWN))
    assert page.count('class="failed"') == FAILED_SHOWN
    assert "failed-000" in page
    assert f"failed-{FAILED_SHOWN + EXTRA - 1:03}" not in page


def test_a_renewal_waiting_for_its_install_window_shows_when_it_opens(
    runtime: Runtime, status_url: str
) -> None:
    waiting, other = thumbprint_of("waiting"), thumbprint_of("other")
    submit(runtime.ledger, NOW, waiting, order_id=1)
    submit(runtime.ledger, NOW, other, order_id=2)
    opens = (NOW + timedelta(hours=3)).replace(microsecond=0)
    runtime.ledger.record_install_deferred(waiting, until=opens, now=NOW)

    page = httpx.get(status_url, timeout=30).text

    assert f"install window opens {opens:%Y-%m-%d %H:%M:%S} UTC" in page
    assert page.count("install window opens") == 1
