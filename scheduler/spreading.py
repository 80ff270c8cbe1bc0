"""Spreading due renewals over time (FIELD.md complaint 2).

Certificates bought on the same day come due in the same minute. Each due
renewal is delayed by a stable pseudo-random share of the slack it has: the
time until it would be pushed past its safety margin. A certificate with
little slack goes at once; one due by the lifetime fraction, weeks before its
floor, waits up to ``spread_hours``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from certrenew.inventory import Entry
from scheduler.policy import Due


def spread_delay_seconds(entry: Entry, due: Due, *, now: datetime) -> float:
    """How long to hold this renewal back; 0 when it must go now."""
    if now >= due.due_at + timedelta(hours=entry.policy.spread_hours):
        return 0.0  # it has waited its share already (or is expired): go now
    floor_at = entry.facts.not_after - timedelta(days=entry.policy.floor_days)
    # Never use more than half of the slack: retries need the other half.
    slack = (floor_at - now) / 2
    window = min(slack, timedelta(hours=entry.policy.spread_hours))
    if window <= timedelta(0):
        return 0.0
    return window.total_seconds() * _stable_fraction(entry.facts.thumbprint)


def _stable_fraction(thumbprint: str) -> float:
    """A number in [0, 1) fixed by the certificate, so rescans agree."""
    digest = hashlib.sha256(thumbprint.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
