"""The renewal policy at its edges: thresholds, lifetimes, validity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certrenew.config import PolicySettings
from certrenew.inventory.entry import CertificateFacts
from scheduler.policy import renewal_due

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
DEFAULT = PolicySettings()  # a third of the lifetime, 30-day floor
ONE_SECOND = timedelta(seconds=1)


def facts_for(lifetime_days: float, issued: datetime = ISSUED) -> CertificateFacts:
    return CertificateFacts.of(
        subject="CN=www.example.com",
        common_name="www.example.com",
        dns_names=("www.example.com",),
        key_type="ec",
        key_size=256,
        signature_hash="sha256",
        not_before=issued,
        not_after=issued + timedelta(days=lifetime_days),
        thumbprint="0" * 40,
        serial_number="01",
        issuer="CN=Example CA",
    )


def test_a_398_day_certificate_is_due_when_a_third_of_its_lifetime_is_left() -> None:
    facts = facts_for(398)
    threshold = facts.not_after - timedelta(days=398) / 3

    at_threshold = renewal_due(facts, DEFAULT, threshold)

    assert at_threshold.is_due
    assert at_threshold.rule == "fraction"
    assert at_threshold.due_at == threshold
    assert "under 33% of its 398-day lifetime" in at_threshold.reason


def test_a_second_before_the_threshold_is_not_due_and_says_when() -> None:
    facts = facts_for(398)
    threshold = facts.not_after - timedelta(days=398) / 3

    verdict = renewal_due(facts, DEFAULT, threshold - ONE_SECOND)

    assert not verdict.is_due
    assert verdict.due_at == threshold
    assert verdict.rule == "fraction"
    assert verdict.reason.startswith("due in ")
    assert threshold.strftime("%Y-%m-%d") in verdict.reason


def test_a_second_after_the_threshold_is_due() -> None:
    facts = facts_for(398)
    threshold = facts.not_after - timedelta(days=398) / 3

    assert renewal_due(facts, DEFAULT, threshold + ONE_SECOND).is_due


def test_a_47_day_certificate_is_due_at_the_floor_because_it_comes_first() -> None:
    facts = facts_for(47)
    floor_at = facts.not_after - timedelta(days=30)

    before = renewal_due(facts, DEFAULT, floor_at - ONE_SECOND)
    at = renewal_due(facts, DEFAULT, floor_at)

    assert not before.is_due
    assert before.rule == "floor"
    assert at.is_due
    assert at.due_at == floor_at
    assert at.reason == "30 days left, under the 30-day floor"


def test_a_90_day_certificate_meets_both_thresholds_at_once_and_names_the_floor() -> (
    None
):
    facts = facts_for(90)
    both_at = facts.not_after - timedelta(days=30)

    verdict = renewal_due(facts, DEFAULT, both_at)

    assert verdict.is_due
    assert verdict.due_at == both_at
    assert verdict.rule == "floor"


def test_a_larger_floor_wins_over_the_fraction_on_a_long_lifetime() -> None:
    facts = facts_for(398)
    policy = PolicySettings(floor_days=200)

    verdict = renewal_due(facts, policy, facts.not_after - timedelta(days=150))

    assert verdict.is_due
    assert verdict.rule == "floor"
    assert verdict.due_at == facts.not_after - timedelta(days=200)


def test_a_smaller_fraction_leaves_the_floor_to_decide() -> None:
    facts = facts_for(398)
    policy = PolicySettings(renew_fraction=0.05, floor_days=30)

    verdict = renewal_due(facts, policy, facts.not_after - timedelta(days=25))

    assert verdict.rule == "floor"
    assert verdict.due_at == facts.not_after - timedelta(days=30)


def test_a_floor_longer_than_the_lifetime_falls_back_to_the_fraction() -> None:
    # Else a 10-day certificate would be due the moment it is issued.
    facts = facts_for(10)

    fresh = renewal_due(facts, DEFAULT, ISSUED + timedelta(days=1))

    assert not fresh.is_due
    assert fresh.rule == "fraction"
    assert fresh.due_at == facts.not_after - timedelta(days=10) / 3


def test_an_expired_certificate_is_due_at_once_and_says_so_loudly() -> None:
    facts = facts_for(398)

    verdict = renewal_due(facts, DEFAULT, facts.not_after + timedelta(days=3))

    assert verdict.is_due
    assert verdict.rule == "expired"
    assert verdict.reason.startswith("EXPIRED 3 days ago")
    assert verdict.due_at == facts.not_after - timedelta(days=398) / 3


def test_a_certificate_is_expired_at_its_not_after_instant() -> None:
    facts = facts_for(90)

    assert renewal_due(facts, DEFAULT, facts.not_after).rule == "expired"
    assert renewal_due(facts, DEFAULT, facts.not_after - ONE_SECOND).rule == "floor"


def test_a_certificate_not_valid_yet_is_not_due_and_says_why() -> None:
    facts = facts_for(199, issued=datetime(2026, 3, 1, tzinfo=UTC))

    verdict = renewal_due(facts, DEFAULT, datetime(2026, 2, 27, tzinfo=UTC))

    assert not verdict.is_due
    assert verdict.rule == "not_yet_valid"
    assert verdict.reason.startswith(
        "not valid yet: valid from 2026-03-01 00:00 UTC, in 2 days"
    )


@pytest.mark.parametrize(
    ("lifetime_days", "left_days", "due"),
    [(47, 31, False), (47, 29, True), (398, 133, False), (398, 132, True)],
)
def test_short_and_long_lifetimes_around_their_thresholds(
    lifetime_days: float, left_days: float, due: bool
) -> None:
    facts = facts_for(lifetime_days)
    now = facts.not_after - timedelta(days=left_days)

    assert renewal_due(facts, DEFAULT, now).is_due is due


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        renewal_due(facts_for(90), DEFAULT, datetime(2026, 2, 1))  # noqa: DTZ001 - the point of the test
