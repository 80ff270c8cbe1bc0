"""The ledger's way forward: each step from claimed to installed, or to failed."""

from __future__ import annotations

from datetime import datetime, timedelta

import redis

from tests.state.ledger_steps import NEW, OLD, claim, submit
from worker.ledger import Ledger, RenewalState, alternative_order_id


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


def test_an_order_issued_with_its_answer_is_recorded_submitted_then_issued_at_once(
    ledger: Ledger, now: datetime
) -> None:
    claim(ledger, now)
    ledger.record_key_stored(OLD, key_location="/k", now=now)
    ledger.record_intent(
        OLD, action="renew", alternative_order_id=alternative_order_id(OLD, 1), now=now
    )

    record = ledger.record_issued_at_once(
        OLD, order_id=7, request_ids=[8], certificate_id=9, now=now
    )

    assert record.state is RenewalState.ISSUED
    assert (record.order_id, record.certificate_id) == (7, 9)
    assert record.order_status == "issued"
    assert record.issued_at == now
    assert ledger.thumbprint_for_order(7) == OLD


def test_counting_an_attempt_returns_the_record_and_when_the_ledger_began(
    ledger: Ledger, now: datetime
) -> None:
    claim(ledger, now)
    ledger.record_key_stored(OLD, key_location="/k", now=now)

    counted = ledger.count_attempt(OLD, now=now + timedelta(minutes=1))

    assert counted.record == ledger.get(OLD)
    assert counted.record.attempts == 1
    assert counted.record.state is RenewalState.KEY_STORED
    assert counted.ledger_began_at == now == ledger.began_at()


def test_steps_sent_together_still_go_through_after_redis_forgot_its_scripts(
    ledger: Ledger, store: redis.Redis, now: datetime
) -> None:
    claim(ledger, now)
    ledger.record_key_stored(OLD, key_location="/k", now=now)
    store.script_flush()

    assert ledger.count_attempt(OLD, now=now).record.attempts == 1
    ledger.record_intent(
        OLD, action="renew", alternative_order_id=alternative_order_id(OLD, 1), now=now
    )
    store.script_flush()
    record = ledger.record_issued_at_once(
        OLD, order_id=7, request_ids=[8], certificate_id=9, now=now
    )
    assert record.state is RenewalState.ISSUED
    assert record.attempts == 1
