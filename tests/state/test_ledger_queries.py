"""The ledger's queries, the retention of installed renewals and the purge."""

from __future__ import annotations

from datetime import datetime, timedelta

import redis

from tests.state.ledger_steps import NEW, OLD, claim, install, submit, thumbprint_of
from worker.ledger import Ledger, PendingOrders, RenewalRecord


def test_queries_list_renewals_by_state_and_orders_by_id(
    ledger: Ledger, now: datetime
) -> None:
    first, second, third = (thumbprint_of(f"cert {index}") for index in range(3))
    submit(ledger, now, first, order_id=11)
    submit(ledger, now + timedelta(seconds=1), second, order_id=12)
    claim(ledger, now + timedelta(seconds=2), third)

    assert [record.thumbprint for record in ledger.by_state("submitted")] == [
        first,
        second,
    ]
    assert [record.thumbprint for record in ledger.in_flight()] == [
        first,
        second,
        third,
    ]
    assert ledger.submitted_orders() == {11: first, 12: second}
    assert ledger.thumbprint_for_order(12) == second
    assert ledger.thumbprint_for_order(13) is None
    assert ledger.counts()["submitted"] == 2
    assert ledger.counts()["claimed"] == 1


def test_unchanged_since_picks_the_records_last_changed_strictly_before_a_time(
    ledger: Ledger, now: datetime
) -> None:
    oldest, older, at_the_cutoff, fresh = (
        thumbprint_of(f"cert {index}") for index in range(4)
    )
    claim(ledger, now - timedelta(hours=2), oldest)
    claim(ledger, now - timedelta(hours=1), older)
    claim(ledger, now, at_the_cutoff)
    claim(ledger, now + timedelta(seconds=1), fresh)
    submit(ledger, now - timedelta(hours=3), thumbprint_of("in another state"))

    idle = ledger.unchanged_since("claimed", now)

    assert [record.thumbprint for record in idle] == [oldest, older]
    assert ledger.unchanged_since("claimed", now - timedelta(hours=2)) == []


def test_a_limit_reads_the_longest_unchanged_renewals_across_every_state(
    ledger: Ledger, now: datetime
) -> None:
    oldest, second, third, newest = (
        thumbprint_of(f"cert {index}") for index in range(4)
    )
    claim(ledger, now, oldest)
    submit(ledger, now + timedelta(seconds=1), second, order_id=11)
    claim(ledger, now + timedelta(seconds=2), third)
    submit(ledger, now + timedelta(seconds=3), newest, order_id=12)
    for index in range(3):
        failed = thumbprint_of(f"failed {index}")
        claim(ledger, now, failed)
        ledger.record_failed(failed, code="x", message="y",
                             now=now + timedelta(seconds=index))  # fmt: skip

    def thumbprints(records: list[RenewalRecord]) -> list[str]:
        return [record.thumbprint for record in records]

    assert thumbprints(ledger.in_flight(limit=3)) == [oldest, second, third]
    assert thumbprints(ledger.in_flight()) == [oldest, second, third, newest]
    assert thumbprints(ledger.in_flight(limit=10)) == thumbprints(ledger.in_flight())
    assert ledger.in_flight(limit=0) == []
    assert thumbprints(ledger.failed(limit=2)) == [
        thumbprint_of("failed 0"),
        thumbprint_of("failed 1"),
    ]
    assert thumbprints(ledger.by_state("submitted", limit=1)) == [second]


def test_pending_orders_are_counted_from_the_submitted_since_index(
    ledger: Ledger, store: redis.Redis, now: datetime
) -> None:
    oldest, middle, newest = (thumbprint_of(f"order {index}") for index in range(3))
    submit(ledger, now - timedelta(days=6), oldest, order_id=1)
    submit(ledger, now - timedelta(hours=3), middle, order_id=2)
    submit(ledger, now - timedelta(hours=1), newest, order_id=3)
    claim(ledger, now, thumbprint_of("not ordered yet"))
    five_days_ago = now - timedelta(days=5)

    pending = ledger.pending_orders(overdue_before=five_days_ago)
    # Strictly before: an order submitted at the cutoff is not overdue yet.
    at_the_cutoff = ledger.pending_orders(overdue_before=now - timedelta(days=6))

    assert pending == PendingOrders(
        oldest_submitted_at=now - timedelta(days=6), overdue=1
    )
    assert at_the_cutoff.overdue == 0

    ledger.record_issued(newest, certificate_id=7, now=now)
    ledger.record_failed(middle, code="order_rejected", message="no", now=now)
    after_two_left = ledger.pending_orders(overdue_before=now)
    ledger.forget(oldest)

    # Only the oldest still counts as overdue: the two that left are gone.
    assert after_two_left == PendingOrders(
        oldest_submitted_at=now - timedelta(days=6), overdue=1
    )
    assert ledger.pending_orders(overdue_before=now) == PendingOrders(
        oldest_submitted_at=None, overdue=0
    )
    assert store.zcard(ledger.submitted_since_key) == 0


def test_a_ledger_older_than_the_index_has_its_pending_orders_read_from_records(
    ledger: Ledger, store: redis.Redis, now: datetime
) -> None:
    before_the_index = [thumbprint_of(f"old order {index}") for index in range(2)]
    for number, thumbprint in enumerate(before_the_index):
        submit(ledger, now - timedelta(days=8 - number), thumbprint, order_id=number)
    store.delete(ledger.submitted_since_key)
    submit(ledger, now - timedelta(hours=1), thumbprint_of("new order"), order_id=9)
    week_ago = now - timedelta(days=7)

    mixed = ledger.pending_orders(overdue_before=week_ago)
    for thumbprint in before_the_index:
        ledger.record_issued(thumbprint, certificate_id=1, now=now)
    indexed_again = ledger.pending_orders(overdue_before=week_ago)

    assert mixed == PendingOrders(
        oldest_submitted_at=now - timedelta(days=8), overdue=1
    )
    assert indexed_again == PendingOrders(
        oldest_submitted_at=now - timedelta(hours=1), overdue=0
    )


def test_installed_renewals_are_pruned_after_the_retention_and_failed_ones_are_kept(
    store: redis.Redis, now: datetime
) -> None:
    ledger = Ledger(store, installed_retention=timedelta(days=30))
    install(ledger, now, OLD, order_id=1)
    failed = thumbprint_of("failed one")
    claim(ledger, now, failed)
    ledger.record_failed(failed, code="x", message="y", now=now)

    assert ledger.prune(now=now + timedelta(days=29)) == 0
    assert ledger.get(OLD) is not None

    later = now + timedelta(days=31)
    install(ledger, later, thumbprint_of("another"), order_id=2)

    assert ledger.get(OLD) is None
    assert ledger.thumbprint_for_order(1) is None
    assert ledger.counts()["installed"] == 1
    assert ledger.get(failed) is not None
    assert ledger.prune(now=now + timedelta(days=3650)) == 1
    assert ledger.failed()[0].thumbprint == failed


def test_forget_purges_the_record_and_its_indexes(
    ledger: Ledger, now: datetime
) -> None:
    submit(ledger, now, order_id=55)
    ledger.record_failed(OLD, code="x", message="y", now=now)

    assert ledger.forget(OLD) is True
    assert ledger.get(OLD) is None
    assert ledger.thumbprint_for_order(55) is None
    assert sum(ledger.counts().values()) == 0
    assert ledger.forget(OLD) is False
    assert claim(ledger, now) is True


def test_renewals_waiting_for_their_install_window_come_from_their_index(
    ledger: Ledger, store: redis.Redis, now: datetime
) -> None:
    soon, later, past, failing = (thumbprint_of(f"wait {n}") for n in range(4))
    for number, thumbprint in enumerate((soon, later, past, failing)):
        submit(ledger, now, thumbprint, order_id=number + 1)
    ledger.record_install_deferred(later, until=now + timedelta(days=1), now=now)
    ledger.record_install_deferred(soon, until=now + timedelta(hours=3), now=now)
    ledger.record_install_deferred(past, until=now - timedelta(hours=1), now=now)
    ledger.record_install_deferred(failing, until=now + timedelta(hours=2), now=now)
    # Issued, still waiting: it stays in the index.
    ledger.record_issued(later, certificate_id=5, now=now)

    waiting = ledger.waiting_for_install_window(now)
    ledger.record_failed(failing, code="x", message="y", now=now)
    ledger.record_issued(soon, certificate_id=6, now=now)
    ledger.record_installed(soon, new_thumbprint=NEW, location="/certs/soon.crt",
                            not_after=now + timedelta(days=90), now=now)  # fmt: skip
    ledger.forget(later)

    assert [(wait.opens_at, wait.name) for wait in waiting] == [
        (now + timedelta(hours=2), "www.example.com"),
        (now + timedelta(hours=3), "www.example.com"),
        (now + timedelta(days=1), "www.example.com"),
    ]
    assert waiting[0].source == "files:/etc/certs"
    assert ledger.waiting_for_install_window(now) == []
    assert store.zrange(ledger.install_waiting_key, 0, -1) == [past.encode()]
