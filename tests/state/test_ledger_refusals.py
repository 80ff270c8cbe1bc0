"""The ledger's refusals: steps out of order, changed facts, bad input."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import pytest

from tests.state.ledger_steps import NEW, OLD, claim, install, submit
from worker.ledger import Ledger, LedgerConflict, RenewalState, alternative_order_id


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


def test_an_order_issued_at_once_never_marks_issued_a_renewal_bound_to_another(
    ledger: Ledger, now: datetime
) -> None:
    submit(ledger, now, order_id=101)
    with pytest.raises(
        LedgerConflict,
        match="already has order_id '101', and record_submitted asked for '102'",
    ):
        ledger.record_issued_at_once(
            OLD, order_id=102, request_ids=[], certificate_id=9, now=now
        )

    record = ledger.get(OLD)
    assert record is not None
    assert record.state is RenewalState.SUBMITTED
    assert record.certificate_id is None
    assert ledger.thumbprint_for_order(102) is None


def test_an_attempt_at_a_renewal_with_no_record_is_not_counted(
    ledger: Ledger, now: datetime
) -> None:
    with pytest.raises(LedgerConflict, match="the ledger has no record"):
        ledger.count_attempt(OLD, now=now)
    assert ledger.get(OLD) is None
