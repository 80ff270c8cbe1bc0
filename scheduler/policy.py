"""When a certificate is due for renewal (DESIGN.md, step 2).

Renew when the remaining lifetime falls under ``renew_fraction`` of the whole
lifetime, or under ``floor_days``, whichever comes first. The fraction keeps
working as CAs shorten lifetimes (398, 199, 100, then 47 days); the floor
leaves room for EV validation, which can take days.

``renewal_due`` is pure: the clock comes in as ``now``. It runs an ordered
chain of small checks; the first that has an answer gives it, with the rule
that decided and a reason a person can read in a log line or a table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from certrenew.config import PolicySettings
from certrenew.inventory.entry import CertificateFacts

DueRule = Literal["not_yet_valid", "expired", "floor", "fraction"]

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Due:
    """The verdict on one certificate at one moment.

    ``due_at`` is when the certificate becomes (or became) due: the earlier
    of the two thresholds. ``rule`` names what decides it: ``floor`` or
    ``fraction`` for the threshold that comes first, ``expired`` and
    ``not_yet_valid`` when the certificate is outside its validity.
    """

    is_due: bool
    due_at: datetime
    rule: DueRule
    # Writes the reason out. A scan judges every certificate but shows the
    # reasons of a few, so they are written when read (bench/scan.py).
    describe: Callable[[], str] = field(compare=False, repr=False)

    @property
    def reason(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class _Thresholds:
    fraction_at: datetime
    floor_at: datetime | None

    @property
    def earliest(self) -> tuple[datetime, DueRule]:
        # On a tie the floor is named: it is the rule an operator set in days.
        if self.floor_at is not None and self.floor_at <= self.fraction_at:
            return self.floor_at, "floor"
        return self.fraction_at, "fraction"


_Check = Callable[[CertificateFacts, PolicySettings, datetime, _Thresholds], Due | None]


def renewal_due(facts: CertificateFacts, policy: PolicySettings, now: datetime) -> Due:
    """Whether the certificate is due at ``now`` (UTC-aware), when and why."""
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime (UTC)")

    thresholds = _thresholds(facts, policy)
    for check in _CHECKS:
        verdict = check(facts, policy, now, thresholds)
        if verdict is not None:
            return verdict
    raise AssertionError("the last check always answers")  # pragma: no cover


def _thresholds(facts: CertificateFacts, policy: PolicySettings) -> _Thresholds:
    lifetime = facts.not_after - facts.not_before
    fraction_at = facts.not_after - lifetime * policy.renew_fraction

    # A floor as long as the lifetime would make a certificate due the moment
    # it is issued, and renew it forever; cert-manager falls back to its
    # fraction in the same case (renewBefore longer than the duration).
    floor = timedelta(days=policy.floor_days)
    floor_at = facts.not_after - floor if floor < lifetime else None
    return _Thresholds(fraction_at=fraction_at, floor_at=floor_at)


def _not_yet_valid(
    facts: CertificateFacts,
    policy: PolicySettings,
    now: datetime,
    thresholds: _Thresholds,
) -> Due | None:
    if now >= facts.not_before:
        return None
    due_at, _ = thresholds.earliest
    return Due(
        is_due=False,
        due_at=due_at,
        describe=lambda: (
            f"not valid yet: valid from {_when(facts.not_before)}, "
            f"in {_duration(facts.not_before - now)}; due on {_when(due_at)}"
        ),
        rule="not_yet_valid",
    )


def _expired(
    facts: CertificateFacts,
    policy: PolicySettings,
    now: datetime,
    thresholds: _Thresholds,
) -> Due | None:
    if now < facts.not_after:
        return None
    due_at, _ = thresholds.earliest
    return Due(
        is_due=True,
        due_at=due_at,
        describe=lambda: (
            f"EXPIRED {_duration(now - facts.not_after)} ago, on "
            f"{_when(facts.not_after)}: renew at once"
        ),
        rule="expired",
    )


def _past_threshold(
    facts: CertificateFacts,
    policy: PolicySettings,
    now: datetime,
    thresholds: _Thresholds,
) -> Due | None:
    due_at, rule = thresholds.earliest
    if now < due_at:
        return None
    return Due(
        is_due=True,
        due_at=due_at,
        describe=lambda: (
            f"{_duration(facts.not_after - now)} left, under "
            f"{_threshold_text(facts, policy, rule)}"
        ),
        rule=rule,
    )


def _not_due_yet(
    facts: CertificateFacts,
    policy: PolicySettings,
    now: datetime,
    thresholds: _Thresholds,
) -> Due | None:
    due_at, rule = thresholds.earliest
    return Due(
        is_due=False,
        due_at=due_at,
        describe=lambda: (
            f"due in {_duration(due_at - now)}, on {_when(due_at)}, at "
            f"{_threshold_text(facts, policy, rule)}"
        ),
        rule=rule,
    )


_CHECKS: tuple[_Check, ...] = (_not_yet_valid, _expired, _past_threshold, _not_due_yet)


def _threshold_text(
    facts: CertificateFacts, policy: PolicySettings, rule: DueRule
) -> str:
    if rule == "floor":
        return f"the {policy.floor_days:g}-day floor"
    lifetime_days = facts.lifetime_seconds / SECONDS_PER_DAY
    return f"{policy.renew_fraction:.0%} of its {lifetime_days:.0f}-day lifetime"


def _duration(span: timedelta) -> str:
    """A span as a person reads it: days when there are days, else hours."""
    seconds = span.total_seconds()
    days = seconds / SECONDS_PER_DAY
    if days >= 1:
        whole = round(days)
        return f"{whole} day" if whole == 1 else f"{whole} days"
    hours = int(seconds // 3600)
    if hours >= 1:
        return f"{hours} hour" if hours == 1 else f"{hours} hours"
    minutes = int(seconds // 60)
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
