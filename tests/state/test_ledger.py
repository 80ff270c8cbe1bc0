from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import redis

from tests.support.redis_server import RedisServer
from worker.ledger import (
    Ledger,
    LedgerConflict,
    RenewalRecord,
    RenewalState,
    alternative_order_id,
    parse_alternative_order_id,
)


def thumbprint_of(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest().upper()  # noqa: S324 - a thumbprint is SHA-1 by definition


OLD = thumbprint_of("old certificate")
NEW = thumbprint_of("new certificate")


@pytest.fixture
def ledger(store: redis.Redis) -> Ledger:
    return Ledger(store)


def claim(ledger: Ledger, now: datetime, thumbprint: str = OLD) -> bool:
    return ledger.claim(
        thumbprint,
        name="www.example.com",
        source="files:/etc/certs",
        due_at=now + timedelta(days=20),
        now=now,
    )


def submit(
    ledger: Ledger, now: datetime, thumbprint: str = OLD, order_id: int = 101
) -> RenewalRecord:
    claim(ledger, now, thumbprint)
    ledger.record_key_stored(
        thumbprint, key_location="/etc/certs/www.key.pending", now=now
    )
    ledger.record_intent(
        thumbprint,
        action="renew",
        alternative_order_id=alternative_order_id(thumbprint, 1),
        now=now,
    )
    return ledger.record_submitted(
        thumbprint,
        order_id=order_id,
        request_ids=[9001],
        order_status="pending",
        certificate_id=None,
        now=now,
    )


def install(
    ledger: Ledger, now: datetime, thumbprint: str = OLD, order_id: int = 101
) -> RenewalRecord:
    submit(ledger, now, thumbprint, order_id)
    ledger.record_issued(thumbprint, certificate_id=5001, now=now)
    return ledger.record_installed(
        thumbprint,
        new_thumbprint=NEW,
        not_after=now + timedelta(days=199),
        location="/etc/certs/www.pem",
        now=now,
    )


# Claims


def test_the_first_claim_of_a_renewal_wins_and_a_second_is_refused(
    ledger: Ledger, now: datetime
) -> None:
    assert claim(ledger, now) is True
    assert claim(ledger, now + timedelta(minutes=15)) is False

    record = ledger.get(OLD)
    assert record is not None
    assert record.state is RenewalState.CLAIMED
    assert record.name == "www.example.com"
    assert record.source == "files:/etc/certs"
    assert record.due_at == now + timedelta(days=20)
    assert record.claimed_at == now
    assert record.updated_at == now
    assert record.generation == 1
    assert record.attempts == 0
    assert record.due_at.tzinfo is not None


def test_a_failed_renewal_blocks_claims_until_an_operator_requeues_it(
    ledger: Ledger, now: datetime
) -> None:
    claim(ledger, now)
    ledger.record_failed(OLD, code="invalid_value:csr", message="bad CSR", now=now)

    assert claim(ledger, now) is False
    ledger.requeue(OLD, now=now)
    assert claim(ledger, now) is False
    assert ledger.get(OLD) is not None


def test_an_installed_renewal_blocks_claims_of_the_replaced_certificate(
    ledger: Ledger, now: datetime
) -> None:
    install(ledger, now)
    assert claim(ledger, now) is False


def test_a_renewal_with_no_record_is_unknown(ledger: Ledger) -> None:
    assert ledger.get(OLD) is None


def test_threads_claiming_the_same_renewal_on_a_real_redis_queue_it_once(
    redis_server: RedisServer, now: datetime
) -> None:
    redis_server.client().flushall()
    contenders = 16
    start = threading.Barrier(contenders)
    wins: list[bool] = []
    lock = threading.Lock()

    def contend() -> None:
        ledger = Ledger(redis_server.client())
        start.wait()
        won = claim(ledger, now)
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=contend) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(wins) == [False] * (contenders - 1) + [True]
    assert Ledger(redis_server.client()).counts()["claimed"] == 1


def test_threads_recording_different_orders_for_one_renewal_bind_only_one(
    redis_server: RedisServer, now: datetime
) -> None:
    redis_server.client().flushall()
    ledger = Ledger(redis_server.client())
    claim(ledger, now)
    ledger.record_key_stored(OLD, key_location="/k", now=now)
    ledger.record_intent(
        OLD, action="renew", alternative_order_id=alternative_order_id(OLD, 1), now=now
    )
    contenders = 8
    start = threading.Barrier(contenders)
    bound: list[int] = []
    lock = threading.Lock()

    def contend(order_id: int) -> None:
        own = Ledger(redis_server.client())
        start.wait()
        try:
            own.record_submitted(
                OLD,
                order_id=order_id,
                request_ids=[],
                order_status="pending",
                certificate_id=None,
                now=now,
            )
        except LedgerConflict:
            return
        with lock:
            bound.append(order_id)

    threads = [
        threading.Thread(target=contend, args=(1000 + index,))
        for index in range(contenders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(bound) == 1
    record = ledger.get(OLD)
    assert record is not None
    assert record.order_id == bound[0]
    assert ledger.submitted_orders() == {bound[0]: OLD}


# The way forward


def test_a_renewal_moves_from_claimed_to_installed_keeping_every_step(
    ledger: Ledger, now: datetime
) -> None:
    step = timedelta(minutes=1)
    claim(ledger, now)
    stored = ledger.record_key_stored(
        OLD, key_location="/etc/certs/www.key.pending", now=now + step
    )
    intent = ledger.record_intent(
        OLD,
        action="reissue",
        alternative_order_id=alternative_order_id(OLD, 1),
        now=now + 2 * step,
    )
    submitted = ledger.record_submitted(
        OLD,
        order_id=4242,
        request_ids=[77, 78],
        order_status="pending",
        certificate_id=None,
        now=now + 3 * step,
    )
    issued = ledger.record_issued(OLD, certificate_id=5150, now=now + 4 * step)
    installed = ledger.record_installed(
        OLD,
        new_thumbprint=NEW,
        not_after=now + timedelta(days=199),
        location="/etc/certs/www.pem",
        now=now + 5 * step,
    )

    assert [
        stored.state,
        intent.state,
        submitted.state,
        issued.state,
        installed.state,
    ] == [
        RenewalState.KEY_STORED,
        RenewalState.SUBMITTING,
        RenewalState.SUBMITTED,
        RenewalState.ISSUED,
        RenewalState.INSTALLED,
    ]
    assert installed.key_location == "/etc/certs/www.key.pending"
    assert installed.key_stored_at == now + step
    assert installed.action == "reissue"
    assert installed.alternative_order_id == alternative_order_id(OLD, 1)
    assert installed.intent_at == now + 2 * step
    assert installed.order_id == 4242
    assert installed.request_ids == (77, 78)
    assert installed.order_status == "pending"
    assert installed.submitted_at == now + 3 * step
    assert installed.certificate_id == 5150
    assert installed.issued_at == now + 4 * step
    assert installed.new_thumbprint == NEW
    assert installed.new_not_after == now + timedelta(days=199)
    assert installed.installed_location == "/etc/certs/www.pem"
    assert installed.installed_at == now + 5 * step
    assert installed.updated_at == now + 5 * step
    assert ledger.get(OLD) == installed
    assert ledger.counts() == {
        "claimed": 0,
        "key_stored": 0,
        "submitting": 0,
        "submitted": 0,
        "issued": 0,
        "installed": 1,
        "failed": 0,
    }


def test_an_order_approved_at_once_keeps_its_certificate_id(
    ledger: Ledger, now: datetime
) -> None:
    claim(ledger, now)
    ledger.record_key_stored(OLD, key_location="/k", now=now)
    ledger.record_intent(
        OLD, action="renew", alternative_order_id=alternative_order_id(OLD, 1), now=now
    )
    record = ledger.record_submitted(
        OLD,
        order_id=7,
        request_ids=[8],
        order_status="issued",
        certificate_id=9,
        now=now,
    )
    assert record.certificate_id == 9
    assert ledger.record_issued(OLD, certificate_id=9, now=now).certificate_id == 9


def test_repeating_a_step_with_the_same_facts_is_harmless(
    ledger: Ledger, now: datetime
) -> None:
    submit(ledger, now, order_id=101)
    again = ledger.record_submitted(
        OLD,
        order_id=101,
        request_ids=[9001],
        order_status="pending",
        certificate_id=None,
        now=now,
    )
    assert again.state is RenewalState.SUBMITTED
    ledger.record_issued(OLD, certificate_id=5001, now=now)
    ledger.record_issued(OLD, certificate_id=5001, now=now)
    for _ in range(2):
        record = ledger.record_installed(
            OLD,
            new_thumbprint=NEW,
            not_after=now + timedelta(days=10),
            location="/c",
            now=now,
        )
    assert record.state is RenewalState.INSTALLED


def test_the_order_status_changes_without_changing_the_state(
    ledger: Ledger, now: datetime
) -> None:
    submit(ledger, now)
    record = ledger.record_order_status(
        OLD, order_status="processing", now=now + timedelta(hours=1)
    )
    assert record.state is RenewalState.SUBMITTED
    assert record.order_status == "processing"
    assert record.updated_at == now + timedelta(hours=1)


def test_attempts_are_counted_in_any_state_in_flight(
    ledger: Ledger, now: datetime
) -> None:
    claim(ledger, now)
    assert ledger.record_attempt(OLD, now=now) == 1
    ledger.record_key_stored(OLD, key_location="/k", now=now)
    assert ledger.record_attempt(OLD, now=now) == 2
    record = ledger.get(OLD)
    assert record is not None
    assert record.state is RenewalState.KEY_STORED
    assert record.attempts == 2


def test_a_failure_keeps_the_code_the_message_the_time_and_the_step_it_stopped_at(
    ledger: Ledger, now: datetime
) -> None:
    submit(ledger, now)
    ledger.record_attempt(OLD, now=now)
    later = now + timedelta(hours=2)
    failed = ledger.record_failed(
        OLD, code="order_rejected", message="DigiCert rejected order 101", now=later
    )

    assert failed.state is RenewalState.FAILED
    assert failed.failure_code == "order_rejected"
    assert failed.failure_message == "DigiCert rejected order 101"
    assert failed.failed_at == later
    assert failed.failed_state is RenewalState.SUBMITTED
    assert failed.attempts == 1
    assert failed.order_id == 101
    assert ledger.failed() == [failed]
    assert ledger.in_flight() == []


def test_failing_a_failed_renewal_again_keeps_the_step_it_first_stopped_at(
    ledger: Ledger, now: datetime
) -> None:
    claim(ledger, now)
    ledger.record_failed(OLD, code="timeout", message="first", now=now)
    again = ledger.record_failed(
        OLD, code="dead_letter", message="retries exhausted", now=now
    )
    assert again.failed_state is RenewalState.CLAIMED
    assert again.failure_code == "dead_letter"
    assert again.failure_message == "retries exhausted"


# Refusals


def test_a_late_duplicate_cannot_move_an_installed_renewal_back_to_submitted(
    ledger: Ledger, now: datetime
) -> None:
    install(ledger, now)
    with pytest.raises(LedgerConflict) as refused:
        ledger.record_submitted(
            OLD,
            order_id=101,
            request_ids=[9001],
            order_status="pending",
            certificate_id=None,
            now=now,
        )
    assert str(refused.value) == (
        f"renewal {OLD}: record_submitted refused: the record is installed, and "
        "record_submitted is allowed only from submitting, submitted"
    )
    assert refused.value.thumbprint == OLD
    assert refused.value.current_state == "installed"
    assert refused.value.transition == "record_submitted"
    record = ledger.get(OLD)
    assert record is not None
    assert record.state is RenewalState.INSTALLED


@pytest.mark.parametrize(
    ("transition", "allowed"),
    [
        ("record_key_stored", "claimed, key_stored"),
        ("record_intent", "key_stored, submitting"),
        ("record_issued", "submitted, issued"),
        ("record_order_status", "submitted, issued"),
        ("record_failed", "claimed, key_stored, submitting, submitted, issued, failed"),
        ("record_attempt", "claimed, key_stored, submitting, submitted, issued"),
        ("requeue", "failed"),
    ],
)
def test_no_step_applies_to_an_installed_renewal(
    ledger: Ledger, now: datetime, transition: str, allowed: str
) -> None:
    install(ledger, now)
    calls: dict[str, Callable[[], object]] = {
        "record_key_stored": lambda: ledger.record_key_stored(
            OLD, key_location="/k", now=now
        ),
        "record_intent": lambda: ledger.record_intent(
            OLD,
            action="renew",
            alternative_order_id=alternative_order_id(OLD, 1),
            now=now,
        ),
        "record_issued": lambda: ledger.record_issued(
            OLD, certificate_id=5001, now=now
        ),
        "record_order_status": lambda: ledger.record_order_status(
            OLD, order_status="issued", now=now
        ),
        "record_failed": lambda: ledger.record_failed(
            OLD, code="late", message="late", now=now
        ),
        "record_attempt": lambda: ledger.record_attempt(OLD, now=now),
        "requeue": lambda: ledger.requeue(OLD, now=now),
    }
    with pytest.raises(
        LedgerConflict,
        match=re.escape(
            f"is installed, and {transition} is allowed only from {allowed}"
        ),
    ):
        calls[transition]()


def test_the_key_cannot_change_once_the_intent_is_recorded(
    ledger: Ledger, now: datetime
) -> None:
    claim(ledger, now)
    ledger.record_key_stored(OLD, key_location="/k", now=now)
    ledger.record_intent(
        OLD, action="renew", alternative_order_id=alternative_order_id(OLD, 1), now=now
    )
    with pytest.raises(
        LedgerConflict, match="the record is submitting, and record_key_stored"
    ):
        ledger.record_key_stored(OLD, key_location="/other", now=now)


def test_an_intent_needs_a_stored_key(ledger: Ledger, now: datetime) -> None:
    claim(ledger, now)
    with pytest.raises(
        LedgerConflict,
        match="the record is claimed, and record_intent is allowed only from",
    ):
        ledger.record_intent(
            OLD,
            action="renew",
            alternative_order_id=alternative_order_id(OLD, 1),
            now=now,
        )


def test_a_retry_cannot_change_the_alternative_id_of_its_generation(
    ledger: Ledger, now: datetime
) -> None:
    claim(ledger, now)
    ledger.record_key_stored(OLD, key_location="/k", now=now)
    first = alternative_order_id(OLD, 1)
    ledger.record_intent(OLD, action="renew", alternative_order_id=first, now=now)
    assert ledger.record_intent(
        OLD, action="renew", alternative_order_id=first, now=now
    ).state is (RenewalState.SUBMITTING)
    with pytest.raises(LedgerConflict) as refused:
        ledger.record_intent(
            OLD, action="renew", alternative_order_id="certrenewOTHER", now=now
        )
    assert str(refused.value) == (
        f"renewal {OLD}: record_intent refused: the record (submitting) already has "
        f"alternative_order_id '{first}', and record_intent asked for 'certrenewOTHER'"
    )


def test_a_renewal_bound_to_an_order_never_takes_a_second_one(
    ledger: Ledger, now: datetime
) -> None:
    submit(ledger, now, order_id=101)
    with pytest.raises(
        LedgerConflict,
        match="already has order_id '101', and record_submitted asked for '102'",
    ):
        ledger.record_submitted(
            OLD,
            order_id=102,
            request_ids=[],
            order_status="pending",
            certificate_id=None,
            now=now,
        )
    assert ledger.thumbprint_for_order(102) is None


def test_an_issued_renewal_keeps_the_certificate_it_was_issued(
    ledger: Ledger, now: datetime
) -> None:
    submit(ledger, now)
    ledger.record_issued(OLD, certificate_id=5001, now=now)
    with pytest.raises(LedgerConflict, match="already has certificate_id '5001'"):
        ledger.record_issued(OLD, certificate_id=5002, now=now)


def test_an_installed_renewal_keeps_the_certificate_it_installed(
    ledger: Ledger, now: datetime
) -> None:
    install(ledger, now)
    with pytest.raises(LedgerConflict, match=f"already has new_thumbprint '{NEW}'"):
        ledger.record_installed(
            OLD,
            new_thumbprint=OLD,
            not_after=now,
            location="/etc/certs/www.pem",
            now=now,
        )


def test_a_certificate_cannot_be_installed_before_it_is_issued(
    ledger: Ledger, now: datetime
) -> None:
    submit(ledger, now)
    with pytest.raises(
        LedgerConflict,
        match="the record is submitted, and record_installed is allowed only from "
        "issued",
    ):
        ledger.record_installed(
            OLD, new_thumbprint=NEW, not_after=now, location="/c", now=now
        )


def test_steps_on_a_renewal_with_no_record_are_refused(
    ledger: Ledger, now: datetime
) -> None:
    with pytest.raises(LedgerConflict) as refused:
        ledger.record_key_stored(OLD, key_location="/k", now=now)
    assert str(refused.value) == (
        f"renewal {OLD}: record_key_stored refused: "
        "the ledger has no record of this renewal"
    )
    assert refused.value.current_state is None
    with pytest.raises(LedgerConflict, match="no record"):
        ledger.record_attempt(OLD, now=now)
    assert ledger.get(OLD) is None
    assert sum(ledger.counts().values()) == 0


def test_a_naive_time_is_refused(ledger: Ledger, now: datetime) -> None:
    with pytest.raises(
        ValueError, match=r"ledger: now must be timezone-aware \(UTC\), got datetime"
    ):
        ledger.claim(
            OLD, name="a", source="b", due_at=now, now=now.replace(tzinfo=None)
        )


def test_a_malformed_thumbprint_is_refused_with_the_rule(
    ledger: Ledger, now: datetime
) -> None:
    with pytest.raises(
        ValueError, match=r"thumbprint must be 40 uppercase hex digits .* got 'ab:cd'"
    ):
        ledger.claim("ab:cd", name="a", source="b", due_at=now, now=now)


# Requeue and the alternative order id


def test_a_requeue_starts_a_new_generation_with_a_new_alternative_id(
    ledger: Ledger, now: datetime
) -> None:
    submit(ledger, now, order_id=101)
    ledger.record_attempt(OLD, now=now)
    ledger.record_failed(OLD, code="order_rejected", message="rejected", now=now)

    later = now + timedelta(days=1)
    requeued = ledger.requeue(OLD, now=later)

    assert requeued.state is RenewalState.CLAIMED
    assert requeued.generation == 2
    assert requeued.attempts == 0
    assert requeued.claimed_at == later
    assert requeued.order_id is None
    assert requeued.alternative_order_id is None
    assert requeued.failure_code is None
    assert requeued.failed_state is None
    assert requeued.previous_alternative_order_ids == (alternative_order_id(OLD, 1),)
    assert alternative_order_id(OLD, requeued.generation) != alternative_order_id(
        OLD, 1
    )
    assert ledger.thumbprint_for_order(101) is None
    assert ledger.failed() == []
    assert ledger.by_state(RenewalState.CLAIMED) == [requeued]

    ledger.record_key_stored(OLD, key_location="/k2", now=later)
    ledger.record_intent(
        OLD,
        action="renew",
        alternative_order_id=alternative_order_id(OLD, 2),
        now=later,
    )
    second = ledger.record_submitted(
        OLD,
        order_id=202,
        request_ids=[],
        order_status="pending",
        certificate_id=None,
        now=later,
    )
    assert second.order_id == 202
    assert ledger.submitted_orders() == {202: OLD}


def test_only_a_failed_renewal_can_be_requeued(ledger: Ledger, now: datetime) -> None:
    submit(ledger, now)
    with pytest.raises(
        LedgerConflict,
        match="the record is submitted, and requeue is allowed only from failed",
    ):
        ledger.requeue(OLD, now=now)


def test_the_alternative_order_id_is_ours_alphanumeric_and_at_most_64_long() -> None:
    value = alternative_order_id(OLD, 1)
    assert value == f"certrenew{OLD}g1"
    assert value.isalnum()
    assert len(alternative_order_id(OLD, 10**14 - 1)) == 64
    assert alternative_order_id(OLD, 1) == alternative_order_id(OLD, 1)
    assert alternative_order_id(OLD, 2) != alternative_order_id(OLD, 1)
    assert alternative_order_id(NEW, 1) != alternative_order_id(OLD, 1)
    assert parse_alternative_order_id(alternative_order_id(OLD, 7)) == (OLD, 7)
    assert parse_alternative_order_id("my-own-order-17") is None


def test_an_alternative_order_id_needs_a_generation_from_one(ledger: Ledger) -> None:
    with pytest.raises(
        ValueError, match=r"generation must be between 1 and 99999999999999, got 0"
    ):
        alternative_order_id(OLD, 0)


# Queries, retention, purge


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
