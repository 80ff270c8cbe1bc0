from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from certrenew.errors import PermanentError
from worker.validity import certificate_validity_days, max_certificate_validity_days

A_MOMENT = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("issued_at", "expected_days"),
    [
        (datetime(2025, 6, 1, tzinfo=UTC), 397),
        (datetime(2026, 2, 24, tzinfo=UTC) - A_MOMENT, 397),
        (datetime(2026, 2, 24, tzinfo=UTC), 199),
        (datetime(2026, 3, 15, tzinfo=UTC), 199),
        (datetime(2027, 3, 15, tzinfo=UTC) - A_MOMENT, 199),
        (datetime(2027, 3, 15, tzinfo=UTC), 99),
        (datetime(2029, 3, 15, tzinfo=UTC) - A_MOMENT, 99),
        (datetime(2029, 3, 15, tzinfo=UTC), 46),
        (datetime(2040, 1, 1, tzinfo=UTC), 46),
    ],
)
def test_the_maximum_follows_digicerts_schedule_at_each_edge(
    issued_at: datetime, expected_days: int
) -> None:
    assert max_certificate_validity_days(issued_at) == expected_days


def test_the_schedule_compares_instants_not_local_dates() -> None:
    # 23:30 on the 23rd in New York is already the 24th in UTC.
    new_york = timezone(timedelta(hours=-5))
    issued_at = datetime(2026, 2, 23, 23, 30, tzinfo=new_york)

    assert max_certificate_validity_days(issued_at) == 199


def test_a_naive_issuing_time_is_refused() -> None:
    with pytest.raises(ValueError, match="issued_at must be a timezone-aware"):
        max_certificate_validity_days(datetime(2026, 5, 1))  # noqa: DTZ001 - the case under test


def test_no_request_means_the_current_maximum() -> None:
    issued_at = datetime(2026, 5, 1, tzinfo=UTC)

    assert certificate_validity_days(None, issued_at, None) == 199


def test_a_request_over_the_maximum_is_cut_to_it() -> None:
    issued_at = datetime(2027, 4, 1, tzinfo=UTC)

    assert certificate_validity_days(397, issued_at, None) == 99


def test_a_request_under_the_maximum_is_kept() -> None:
    issued_at = datetime(2026, 5, 1, tzinfo=UTC)

    assert certificate_validity_days(90, issued_at, None) == 90


def test_the_certificate_never_ends_after_the_plan() -> None:
    issued_at = datetime(2026, 5, 1, 12, tzinfo=UTC)

    days = certificate_validity_days(None, issued_at, date(2026, 6, 30))

    assert days == 60
    assert (issued_at + timedelta(days=days)).date() == date(2026, 6, 30)


def test_a_plan_ending_after_the_maximum_does_not_shorten_it() -> None:
    issued_at = datetime(2026, 5, 1, tzinfo=UTC)
    plan_end = issued_at.date() + timedelta(days=200)

    assert certificate_validity_days(None, issued_at, plan_end) == 199


def test_one_day_left_on_the_plan_gives_a_one_day_certificate() -> None:
    issued_at = datetime(2026, 5, 1, 8, tzinfo=UTC)

    assert certificate_validity_days(None, issued_at, date(2026, 5, 2)) == 1


@pytest.mark.parametrize("plan_end", [date(2026, 5, 1), date(2026, 4, 1)])
def test_a_plan_with_no_whole_day_left_is_a_permanent_error(plan_end: date) -> None:
    issued_at = datetime(2026, 5, 1, 8, tzinfo=UTC)

    with pytest.raises(PermanentError, match=f"plan ends on {plan_end}") as caught:
        certificate_validity_days(None, issued_at, plan_end)

    assert caught.value.code == "order_plan_ended"


@pytest.mark.parametrize("requested_days", [0, -5])
def test_a_request_under_one_day_is_refused_with_the_value(requested_days: int) -> None:
    issued_at = datetime(2026, 5, 1, tzinfo=UTC)

    with pytest.raises(
        PermanentError, match=rf"at least 1 \(given: {requested_days}\)"
    ):
        certificate_validity_days(requested_days, issued_at, None)
