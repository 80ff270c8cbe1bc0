"""The ledger's requeue and the alternative order id of each generation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.state.ledger_steps import NEW, OLD, submit
from worker.ledger import (
    Ledger,
    LedgerConflict,
    RenewalState,
    alternative_order_id,
    parse_alternative_order_id,
)


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
