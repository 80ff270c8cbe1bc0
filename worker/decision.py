"""Reissue on the same order (free) or place a renewal order (paid).

A Multi-year Plan is paid once; each certificate on it is short, and a new one
is a free reissue as long as the plan lasts (API.md "Multi-year Plans: reissue
or renew"). Only when the plan cannot carry the whole next certificate is a
renewal order due. The caller passes the validity the next certificate would
get from the CA/Browser Forum schedule alone (``worker.validity`` without the
plan's end), so that a plan about to end is not stretched into a stub
certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

# Only an issued order can be reissued: a pending reissue is already a request in
# flight, and a rejected, canceled, revoked or expired order carries nothing more.
REISSUABLE_STATUSES = frozenset({"issued"})


@dataclass(frozen=True)
class Action:
    """What to do for one renewal, and why (for the log and the status page)."""

    kind: Literal["reissue", "renew"]
    reason: str


def choose_action(
    *,
    is_multi_year_plan: bool,
    order_valid_till: date | None,
    order_status: str,
    now: datetime,
    validity_days: int,
) -> Action:
    """Reissue while the plan covers the next certificate, else renew."""
    if now.utcoffset() is None:
        raise ValueError(f"now must be a timezone-aware datetime (given: {now!r})")

    if not is_multi_year_plan:
        return Action("renew", "the order is not a Multi-year Plan")

    if order_valid_till is None:
        return Action("renew", "the order has no plan end date (order_valid_till)")

    ends_at = now.astimezone(UTC) + timedelta(days=validity_days)
    new_certificate_ends_on = ends_at.date()
    if order_valid_till < new_certificate_ends_on:
        return Action(
            "renew",
            f"the plan ends on {order_valid_till}, before a {validity_days}-day "
            f"certificate would (on {new_certificate_ends_on})",
        )

    if order_status not in REISSUABLE_STATUSES:
        return Action(
            "renew",
            f"the order is {order_status!r}, which cannot be reissued "
            "(only 'issued' can)",
        )

    return Action(
        "reissue",
        f"the plan runs until {order_valid_till}, covering a {validity_days}-day "
        f"certificate (until {new_certificate_ends_on})",
    )
