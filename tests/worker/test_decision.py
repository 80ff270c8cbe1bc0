from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from worker.decision import Action, choose_action

NOW = datetime(2026, 5, 1, 10, tzinfo=UTC)
# NOW + 199 days falls on 2026-11-16.
NEW_CERTIFICATE_ENDS_ON = date(2026, 11, 16)


def choose(
    *,
    is_multi_year_plan: bool = True,
    order_valid_till: date | None = date(2028, 1, 1),
    order_status: str = "issued",
) -> Action:
    return choose_action(
        is_multi_year_plan=is_multi_year_plan,
        order_valid_till=order_valid_till,
        order_status=order_status,
        now=NOW,
        validity_days=199,
    )


def test_a_plan_that_covers_the_next_certificate_is_reissued() -> None:
    action = choose()

    assert action.kind == "reissue"
    assert "2028-01-01" in action.reason


def test_a_plan_ending_the_same_day_as_the_new_certificate_is_reissued() -> None:
    assert choose(order_valid_till=NEW_CERTIFICATE_ENDS_ON).kind == "reissue"


def test_a_plan_ending_the_day_after_the_new_certificate_is_reissued() -> None:
    assert choose(order_valid_till=date(2026, 11, 17)).kind == "reissue"


def test_a_plan_ending_the_day_before_the_new_certificate_is_renewed() -> None:
    action = choose(order_valid_till=date(2026, 11, 15))

    assert action == Action(
        "renew",
        "the plan ends on 2026-11-15, before a 199-day certificate would "
        "(on 2026-11-16)",
    )


def test_an_order_that_is_not_a_multi_year_plan_is_renewed() -> None:
    action = choose(is_multi_year_plan=False)

    assert action == Action("renew", "the order is not a Multi-year Plan")


def test_a_plan_without_an_end_date_is_renewed() -> None:
    action = choose(order_valid_till=None)

    assert action.kind == "renew"
    assert "order_valid_till" in action.reason


@pytest.mark.parametrize(
    "status", ["pending", "reissue_pending", "revoked", "expired", "canceled"]
)
def test_an_order_that_is_not_issued_is_renewed(status: str) -> None:
    action = choose(order_status=status)

    assert action.kind == "renew"
    assert repr(status) in action.reason


def test_the_decision_is_a_frozen_value() -> None:
    action = choose()

    with pytest.raises(AttributeError):
        action.kind = "renew"  # type: ignore[misc]  # frozen: assignment must fail


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware datetime"):
        choose_action(
            is_multi_year_plan=True,
            order_valid_till=date(2028, 1, 1),
            order_status="issued",
            now=datetime(2026, 5, 1),  # noqa: DTZ001 - the case under test
            validity_days=199,
        )
