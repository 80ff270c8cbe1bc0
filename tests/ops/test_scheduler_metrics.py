"""The scheduler's collector (scheduler/metrics.py), scraped through a registry:
certificates from the last scan, the ledger, Dramatiq's queues on a real Redis,
the key breaker and the scheduler's own state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis
from prometheus_client import CollectorRegistry
from redis.backoff import NoBackoff
from redis.retry import Retry

from certrenew.config import OrderSettings, PolicySettings, Settings
from certrenew.inventory import CertificateFacts, Entry, Problem
from scheduler.metrics import SchedulerCollector, snapshot_from_scan
from scheduler.policy import Due, DueRule
from scheduler.scan import ScannedEntry
from scheduler.service import SchedulerState
from tests.support.redis_server import free_port
from worker.ledger import Ledger
from worker.runtime import Runtime

NOW = datetime.now(UTC)
OVERDUE_AFTER = timedelta(days=5)
SOURCE = "files:/srv/certs"


def scanned(
    name: str,
    *,
    due_at: datetime,
    is_due: bool,
    rule: DueRule = "fraction",
    team: str | None = None,
) -> ScannedEntry:
    facts = CertificateFacts.of(
        subject=f"CN={name}.example.com",
        common_name=f"{name}.example.com",
        dns_names=(f"{name}.example.com",),
        key_type="ec",
        key_size=256,
        signature_hash="sha256",
        not_before=NOW - timedelta(days=60),
        not_after=due_at + timedelta(days=30),
        thumbprint=name.upper().ljust(40, "0")[:40],
        serial_number="01",
        issuer="CN=Test Intermediate",
    )
    entry = Entry(
        name=name,
        source=SOURCE,
        location=f"/srv/certs/{name}.crt",
        key_location=f"/srv/certs/{name}.key",
        facts=facts,
        order=OrderSettings(),
        policy=PolicySettings(),
        labels={} if team is None else {"team": team},
    )
    return ScannedEntry(entry, Due(is_due, due_at, rule=rule, describe=lambda: "test"))


def collect(runtime: Runtime, state: SchedulerState) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SchedulerCollector(runtime, state))
    return registry


def sample(registry: CollectorRegistry, metric: str, /, **labels: str) -> float | None:
    """One sample, collected now (a registry asks its collectors when read)."""
    return registry.get_sample_value(metric, labels)


@pytest.fixture
def runtime(redis_client: redis.Redis) -> Runtime:
    return Runtime(settings=Settings(), redis=redis_client, embedded=False)


def test_each_certificate_of_the_last_scan_has_its_timestamps_and_labels(
    runtime: Runtime,
) -> None:
    shop = scanned("shop", due_at=NOW + timedelta(days=40), is_due=False, team="pay")
    state = SchedulerState(
        certificates=snapshot_from_scan(
            [shop], [], now=NOW, overdue_after=OVERDUE_AFTER
        )
    )

    registry = collect(runtime, state)

    labels = {
        "name": "shop",
        "common_name": "shop.example.com",
        "source": SOURCE,
        "team": "pay",
    }
    expires = sample(
        registry, "certrenew_certificate_expiration_timestamp_seconds", **labels
    )
    due = sample(
        registry, "certrenew_certificate_renewal_due_timestamp_seconds", **labels
    )
    assert expires == (NOW + timedelta(days=70)).timestamp()
    assert due == (NOW + timedelta(days=40)).timestamp()


def test_certificates_are_counted_ok_due_overdue_expired_and_broken(
    runtime: Runtime,
) -> None:
    entries = [
        scanned("calm", due_at=NOW + timedelta(days=40), is_due=False),
        scanned("fresh", due_at=NOW - timedelta(days=1), is_due=True),
        scanned("late", due_at=NOW - timedelta(days=6), is_due=True),
        scanned("later", due_at=NOW - timedelta(days=9), is_due=True),
        scanned("gone", due_at=NOW - timedelta(days=60), is_due=True, rule="expired"),
    ]
    problem = Problem(SOURCE, "/srv/certs/junk.crt", "not a PEM file")
    state = SchedulerState(
        certificates=snapshot_from_scan(
            entries, [problem], now=NOW, overdue_after=OVERDUE_AFTER
        )
    )

    registry = collect(runtime, state)

    counts = {
        state: sample(registry, "certrenew_certificates", state=state)
        for state in ("ok", "due", "overdue", "expired", "broken")
    }
    assert counts == {"ok": 1, "due": 1, "overdue": 2, "expired": 1, "broken": 1}


def test_a_scheduler_that_never_scanned_shows_the_epoch_and_no_certificates(
    runtime: Runtime,
) -> None:
    registry = collect(runtime, SchedulerState())

    assert sample(registry, "certrenew_scan_last_success_timestamp_seconds") == 0
    assert sample(registry, "certrenew_sync_last_success_timestamp_seconds") == 0
    assert sample(registry, "certrenew_scheduler_leader") == 0
    assert sample(registry, "certrenew_certificates", state="ok") is None


def test_the_scheduler_shows_its_last_scan_sync_and_leadership(
    runtime: Runtime,
) -> None:
    state = SchedulerState(
        last_scan_at=NOW - timedelta(seconds=30),
        last_sync_at=NOW - timedelta(seconds=10),
        last_scan_seconds=1.25,
        last_scan_entries=7,
        is_leader=True,
    )

    registry = collect(runtime, state)

    assert (
        sample(registry, "certrenew_scan_last_success_timestamp_seconds")
        == (NOW - timedelta(seconds=30)).timestamp()
    )
    assert (
        sample(registry, "certrenew_sync_last_success_timestamp_seconds")
        == (NOW - timedelta(seconds=10)).timestamp()
    )
    assert sample(registry, "certrenew_scan_duration_seconds") == 1.25
    assert sample(registry, "certrenew_scan_entries") == 7
    assert sample(registry, "certrenew_scheduler_leader") == 1


def submit(ledger: Ledger, thumbprint: str, *, at: datetime, order_id: int) -> None:
    """Walk one renewal through the ledger until DigiCert holds its order."""
    ledger.claim(thumbprint, name=thumbprint[:4], source=SOURCE, due_at=at, now=at)
    ledger.record_key_stored(thumbprint, key_location="/keys/pending", now=at)
    ledger.record_intent(
        thumbprint, action="renew", alternative_order_id=f"alt-{order_id}", now=at
    )
    ledger.record_submitted(
        thumbprint,
        order_id=order_id,
        request_ids=[order_id + 1],
        order_status="pending",
        certificate_id=None,
        now=at,
    )


def test_renewals_in_flight_pending_and_failed_come_from_the_ledger(
    runtime: Runtime,
) -> None:
    ledger = runtime.ledger
    submit(ledger, "A" * 40, at=NOW - timedelta(days=6), order_id=100)
    submit(ledger, "B" * 40, at=NOW - timedelta(hours=3), order_id=200)
    ledger.claim("C" * 40, name="c", source=SOURCE, due_at=NOW, now=NOW)
    ledger.claim("D" * 40, name="d", source=SOURCE, due_at=NOW, now=NOW)
    ledger.record_failed("D" * 40, code="rejected", message="no", now=NOW)

    registry = collect(runtime, SchedulerState())

    assert sample(registry, "certrenew_renewals_in_flight", state="submitted") == 2
    assert sample(registry, "certrenew_renewals_in_flight", state="claimed") == 1
    assert sample(registry, "certrenew_renewals_pending_overdue") == 1
    oldest = sample(registry, "certrenew_renewal_pending_oldest_seconds")
    assert oldest is not None
    assert 6 * 86400 <= oldest < 6 * 86400 + 600
    assert sample(registry, "certrenew_dead_letters") == 1


def hash_reads_of_one_scrape(
    registry: CollectorRegistry, client: redis.Redis
) -> tuple[int, float | None]:
    """The HGETALLs one scrape made, and the oldest pending order's age."""
    client.config_resetstat()
    # Each read of a sample is one whole scrape.
    oldest = sample(registry, "certrenew_renewal_pending_oldest_seconds")
    stats = client.info("commandstats").get("cmdstat_hgetall", {"calls": 0})
    return int(stats["calls"]), oldest


def test_a_scrape_reads_no_renewal_record_however_many_orders_wait(
    runtime: Runtime, redis_client: redis.Redis
) -> None:
    registry = collect(runtime, SchedulerState())
    # Reads that do not depend on the renewals (the key breaker's, say).
    reads_of_an_empty_ledger, _ = hash_reads_of_one_scrape(registry, redis_client)
    for number in range(50):
        thumbprint = f"{number:040X}"
        submit(runtime.ledger, thumbprint, at=NOW - timedelta(hours=number),
               order_id=1000 + number)  # fmt: skip

    reads, oldest = hash_reads_of_one_scrape(registry, redis_client)

    assert reads == reads_of_an_empty_ledger
    assert sample(registry, "certrenew_renewals_in_flight", state="submitted") == 50
    assert oldest is not None
    assert 49 * 3600 <= oldest < 49 * 3600 + 600


def test_queue_depths_are_read_from_dramatiqs_keys(
    runtime: Runtime, redis_client: redis.Redis
) -> None:
    redis_client.rpush("dramatiq:certrenew", "m1", "m2", "m3")
    redis_client.rpush("dramatiq:certrenew.DQ", "m4")
    redis_client.zadd("dramatiq:certrenew.XQ", {"m5": 1.0, "m6": 2.0})

    registry = collect(runtime, SchedulerState())

    depths = {
        state: sample(
            registry, "certrenew_queue_messages", queue="certrenew", state=state
        )
        for state in ("ready", "delayed", "failed")
    }
    assert depths == {"ready": 3, "delayed": 1, "failed": 2}


def test_a_rejected_api_key_shows_until_the_breaker_clears(runtime: Runtime) -> None:
    registry = collect(runtime, SchedulerState())
    before = sample(registry, "certrenew_api_key_rejected")

    runtime.key_rejection.trip(
        code="invalid_api_key", message="bad key", pause_seconds=300, now=NOW
    )
    tripped = sample(registry, "certrenew_api_key_rejected")
    runtime.key_rejection.clear()
    cleared = sample(registry, "certrenew_api_key_rejected")

    assert (before, tripped, cleared) == (0, 1, 0)


def test_a_scrape_while_redis_is_down_still_shows_the_scheduler_and_certificates() -> (
    None
):
    nobody_listens = redis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))
    runtime = Runtime(settings=Settings(), redis=nobody_listens, embedded=False)
    calm = scanned("calm", due_at=NOW + timedelta(days=40), is_due=False)
    state = SchedulerState(
        is_leader=True,
        certificates=snapshot_from_scan(
            [calm], [], now=NOW, overdue_after=OVERDUE_AFTER
        ),
    )

    registry = collect(runtime, state)

    assert sample(registry, "certrenew_scheduler_leader") == 1
    assert sample(registry, "certrenew_certificates", state="ok") == 1
    assert sample(registry, "certrenew_dead_letters") is None
    assert sample(registry, "certrenew_api_key_rejected") is None


def test_a_certificate_waiting_for_its_install_window_says_when_it_opens(
    runtime: Runtime,
) -> None:
    submit(runtime.ledger, "A" * 40, at=NOW, order_id=1)
    submit(runtime.ledger, "B" * 40, at=NOW, order_id=2)
    opens = NOW + timedelta(hours=5)
    runtime.ledger.record_install_deferred("A" * 40, until=opens, now=NOW)

    registry = collect(runtime, SchedulerState())
    metric = "certrenew_certificate_install_window_opens_timestamp_seconds"

    assert sample(registry, metric, name="AAAA", source=SOURCE) == opens.timestamp()
    assert sample(registry, metric, name="BBBB", source=SOURCE) is None
