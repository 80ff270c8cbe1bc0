"""A running `certrenew scheduler` and `certrenew worker`, watched from outside:
their /metrics scraped with Prometheus's text parser, and the status page
loaded, read and clicked in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from certrenew.config import Settings
from sandbox import SandboxServer
from scheduler.requeue import DEAD_LETTERS_KEY, DEAD_MESSAGES_KEY, dead_messages
from tests.deploy.known_metrics import CERTRENEW_METRICS, KNOWN_METRICS
from tests.support.config import write_config
from tests.support.processes import CertrenewProcess, wait_until
from tests.support.redis_server import RedisServer, free_port
from tests.support.sandbox import PENDING_EV_ORG, TEST_API_KEY, running_sandbox
from tests.support.seeding import seed_certificate
from worker.actors import renew_certificate
from worker.broker import build_broker
from worker.ledger import Ledger, RenewalRecord

pytestmark = pytest.mark.slow

NOW = datetime.now(UTC)
# Due since about 20 days: past the 5-day pending deadline, so "overdue".
LONG_DUE = (NOW - timedelta(days=80), NOW + timedelta(days=10))
# A third of 90.5 days before expiry: due since about 16 hours.
JUST_DUE = (NOW - timedelta(days=61), NOW + timedelta(days=29.5))
NOT_DUE = (NOW - timedelta(days=5), NOW + timedelta(days=150))
UNKNOWN_THUMBPRINT = "AB" * 20

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Running:
    sandbox: SandboxServer
    ledger: Ledger
    redis: redis.Redis
    scheduler_url: str
    worker_metrics_url: str
    thumbprints: dict[str, str]
    started_at: datetime

    def records(self) -> dict[str, RenewalRecord]:
        records = self.ledger.in_flight() + self.ledger.failed()
        records += self.ledger.by_state("installed")
        return {record.name: record for record in records}


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    """One renewal installed, one pending, one rejected, one dead letter."""
    folder = Path(tempfile.mkdtemp(prefix="certrenew-ops-"))
    inventory = folder / "inventory"
    inventory.mkdir()
    server = RedisServer()
    server.start()
    client = server.client()
    monkeypatch = pytest.MonkeyPatch()
    # Dramatiq's exposition server: loopback only (its default is 0.0.0.0).
    monkeypatch.setenv("dramatiq_prom_host", "127.0.0.1")
    processes: list[CertrenewProcess] = []
    try:
        with running_sandbox() as sandbox:
            ports = (free_port(), free_port())
            config = folder / "certrenew.toml"
            write_config(
                config,
                redis_url=server.url,
                base_url=sandbox.base_url,
                folder=inventory,
                http_port=ports[0],
                metrics_port=ports[1],
            )

            def seed(name: str, validity: Any, **options: Any) -> str:
                return seed_certificate(
                    sandbox,
                    inventory,
                    name,
                    validity=validity,
                    common_name=f"{name}.example.com",
                    **options,
                )

            thumbprints = {
                "shop": seed("shop", LONG_DUE),
                "doomed": seed("doomed", LONG_DUE, organization_id=PENDING_EV_ORG),
                "waiting": seed("waiting", JUST_DUE, organization_id=PENDING_EV_ORG),
                "calm": seed("calm", NOT_DUE),
            }
            (inventory / "junk.crt").write_text("not a certificate\n")
            started_at = datetime.now(UTC)
            for command in ("scheduler", "worker"):
                processes.append(
                    CertrenewProcess(command, config, folder, api_key=TEST_API_KEY)
                )
            ledger = Ledger(client)
            state = Running(
                sandbox,
                ledger,
                client,
                f"http://127.0.0.1:{ports[0]}",
                f"http://127.0.0.1:{ports[1]}/metrics",
                thumbprints,
                started_at,
            )
            wait_until(
                lambda: (
                    _states(state)
                    == {
                        "shop": "installed",
                        "doomed": "submitted",
                        "waiting": "submitted",
                    }
                ),
                timeout_seconds=60,
                what="shop installed, doomed and waiting pending at DigiCert",
            )
            order_id = state.records()["doomed"].order_id
            httpx.post(
                f"{sandbox.admin_url}/orders/{order_id}/reject"
            ).raise_for_status()
            # A message for a source that is not configured: retried, then
            # dead-lettered (Dramatiq's retries, errors and rejects).
            send_renew_message(state, "nosuch", "ghost", UNKNOWN_THUMBPRINT)
            wait_until(
                lambda: (
                    _states(state).get("doomed") == "failed"
                    and client.zcard("dramatiq:certrenew.XQ") == 1
                ),
                timeout_seconds=60,
                what="the rejected order failed and the ghost dead-lettered",
            )
            yield state
    except AssertionError as error:
        raise AssertionError(f"{error}\n{_tails(processes)}") from error
    finally:
        for process in processes:
            assert process.terminate() == 0, process.output()
        monkeypatch.undo()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _tails(processes: list[CertrenewProcess]) -> str:
    """The end of each process's output, to see why a set-up timed out."""
    return "\n".join(
        f"--- certrenew {process.command}\n{process.output()[-3000:]}"
        for process in processes
    )


def _states(state: Running) -> dict[str, str]:
    return {name: record.state.value for name, record in state.records().items()}


def scrape(url: str) -> tuple[set[str], Samples]:
    """Metric family names and every sample, as Prometheus would read them."""
    text = httpx.get(url, timeout=10).text
    names: set[str] = set()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        # The parser drops _total from counter family names; the series keep it.
        names.add(family.name)
        for sample in family.samples:
            names.add(sample.name)
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return names, samples


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples[(metric, tuple(sorted(labels.items())))]


def test_every_metric_the_dashboard_and_alerts_use_is_exposed_by_a_process(
    running: Running,
) -> None:
    scheduler_names, _ = scrape(f"{running.scheduler_url}/metrics")
    worker_names, _ = scrape(running.worker_metrics_url)

    exposed = scheduler_names | worker_names
    missing = sorted(name for name in KNOWN_METRICS if name not in exposed)
    assert missing == []
    assert "certrenew_certificates" in scheduler_names
    assert "dramatiq_messages_total" in worker_names
    assert "certrenew_renewals_total" in worker_names


def test_the_scheduler_gauges_follow_the_scan_and_the_ledger(running: Running) -> None:
    _, samples = scrape(f"{running.scheduler_url}/metrics")

    counts = {
        state: value(samples, "certrenew_certificates", state=state)
        for state in ("ok", "due", "overdue", "expired", "broken")
    }
    assert counts == {"ok": 2, "due": 1, "overdue": 1, "expired": 0, "broken": 1}
    calm = [
        (dict(labels), sample)
        for (metric, labels), sample in samples.items()
        if metric == "certrenew_certificate_expiration_timestamp_seconds"
        and dict(labels)["name"] == "calm"
    ]
    assert len(calm) == 1
    labels, expires = calm[0]
    assert labels["common_name"] == "calm.example.com"
    assert labels["team"] == ""
    assert labels["source"].startswith("files:")
    assert abs(expires - NOT_DUE[1].timestamp()) < 2
    assert value(samples, "certrenew_renewals_in_flight", state="submitted") == 1
    assert value(samples, "certrenew_dead_letters") == len(running.ledger.failed())
    assert (
        value(samples, "certrenew_queue_messages", queue="certrenew", state="failed")
        == 1
    )
    assert value(samples, "certrenew_scheduler_leader") == 1
    assert value(samples, "certrenew_api_key_rejected") == 0
    last_scan = value(samples, "certrenew_scan_last_success_timestamp_seconds")
    assert last_scan > running.started_at.timestamp()
    assert value(samples, "certrenew_scan_entries") == 4
    assert (
        value(samples, "certrenew_renewals_total", action="renew", result="failed") == 1
    )


def test_the_worker_counts_orders_renewals_and_api_calls_by_route_template(
    running: Running,
) -> None:
    _, samples = scrape(running.worker_metrics_url)

    assert value(samples, "certrenew_orders_submitted_total", action="renew") == 3
    assert (
        value(samples, "certrenew_renewals_total", action="renew", result="installed")
        == 1
    )
    assert value(samples, "certrenew_renewal_duration_seconds_count") == 1
    # Due about 20 days before it was installed.
    assert value(samples, "certrenew_renewal_duration_seconds_sum") > 19 * 86400
    endpoints = {
        dict(labels)["endpoint"]
        for (name, labels) in samples
        if name == "certrenew_api_requests_total"
    }
    assert "POST /order/certificate/{product}" in endpoints
    assert all(not re.search(r"[0-9]", endpoint) for endpoint in endpoints), endpoints
    created = value(
        samples,
        "certrenew_api_requests_total",
        endpoint="POST /order/certificate/{product}",
        status="201",
    )
    assert created == 3
    assert not [
        name
        for (name, _) in samples
        if name.startswith("certrenew_")
        and name.removesuffix("_total")
        .removesuffix("_bucket")
        .removesuffix("_count")
        .removesuffix("_sum")
        not in CERTRENEW_METRICS
        and name not in CERTRENEW_METRICS
    ]


def test_the_scheduler_answers_its_probes(running: Running) -> None:
    assert httpx.get(f"{running.scheduler_url}/healthz").status_code == 200
    ready = httpx.get(f"{running.scheduler_url}/readyz")
    assert (ready.status_code, ready.text) == (200, "ready\n")


def test_a_cross_site_requeue_without_the_token_is_refused(running: Running) -> None:
    doomed = running.thumbprints["doomed"]
    answer = httpx.post(
        f"{running.scheduler_url}/requeue",
        data={"thumbprint": doomed},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert "cross-site request refused" in answer.text
    tokenless = httpx.post(
        f"{running.scheduler_url}/requeue", data={"thumbprint": doomed}
    )
    assert tokenless.status_code == 403
    assert running.records()["doomed"].state == "failed"


def test_an_operator_sees_the_failed_renewal_in_a_browser_and_requeues_it(
    running: Running,
) -> None:
    driver = start_chromium()
    try:
        driver.get(running.scheduler_url + "/")
        page = driver.find_element("tag name", "body").text
        queues = driver.find_element("id", "queues").text
        assert "Failed (dead letters) 1" in queues
        assert "This scheduler leader" in page
        failed = {
            row.get_attribute("data-thumbprint"): row.text
            for row in driver.find_elements("css selector", "tr.failed")
        }
        doomed = running.thumbprints["doomed"]
        assert "DigiCert rejected order" in failed[doomed]
        assert "waiting" in driver.find_element("id", "in-flight").text
        assert TEST_API_KEY not in driver.page_source

        driver.find_element("id", f"requeue-{doomed}").click()

        # The page is already at "/": wait for the requeue itself, and for the
        # renewal's new order, which waits for EV validation like the first.
        wait_until(
            lambda: _state_and_generation(running, doomed) == ("submitted", 2),
            timeout_seconds=30,
            what="the requeued renewal ordered again",
        )
        assert driver.current_url.rstrip("/") == running.scheduler_url
        driver.refresh()
        rows = driver.find_elements("css selector", "tr.failed")
        assert doomed not in [row.get_attribute("data-thumbprint") for row in rows]
    finally:
        driver.quit()


def test_a_requeue_through_the_page_removes_the_renewals_dead_letter(
    running: Running,
) -> None:
    # A renewal of "calm" under a thumbprint it no longer has: the worker
    # claims it, finds the certificate changed, and fails it for good, so it
    # is failed in the ledger and dead-lettered by Dramatiq. (Runs last: the
    # tests above count one failed renewal and one dead letter.)
    stale = "CD" * 20
    source = running.records()["shop"].source
    send_renew_message(running, source, "calm", stale)
    wait_until(
        lambda: dead_message_ids(running, stale) != [],
        timeout_seconds=30,
        what="the stale renewal of calm dead-lettered",
    )
    (dead_id,) = dead_message_ids(running, stale)
    record = running.ledger.get(stale)
    assert record is not None
    assert (record.state, record.failure_code) == ("failed", "certificate_changed")

    with httpx.Client(base_url=running.scheduler_url) as browser:
        page = browser.get("/").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        answer = browser.post(
            "/requeue", data={"thumbprint": stale, "csrf_token": token.group(1)}
        )

    assert answer.status_code == 303
    assert not running.redis.zscore(DEAD_LETTERS_KEY, dead_id)
    assert not running.redis.hexists(DEAD_MESSAGES_KEY, dead_id)
    requeued = running.ledger.get(stale)
    assert requeued is not None
    assert requeued.generation == 2


def send_renew_message(running: Running, source: str, name: str, thumb: str) -> None:
    """Put a renewal message on the queue as the scheduler would."""
    broker = build_broker(Settings(), running.redis)
    broker.declare_actor(renew_certificate)
    renew_certificate.broker = broker
    renew_certificate.send(source, name, thumb)


def dead_message_ids(running: Running, thumbprint: str) -> list[str]:
    return [
        message.message_id
        for message in dead_messages(running.redis)
        if message.thumbprint == thumbprint
    ]


def _state_and_generation(running: Running, thumbprint: str) -> tuple[str, int]:
    record = running.ledger.get(thumbprint)
    assert record is not None
    return record.state.value, record.generation


def start_chromium() -> Any:
    """Headless Chromium through chromedriver; skips locally when absent."""
    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromium-driver must be installed in CI")
        pytest.skip("chromium or chromedriver is not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="certrenew-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(chromedriver))
