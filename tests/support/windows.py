"""Install windows that are closed when a test runs, opening at a known time."""

from __future__ import annotations

from datetime import datetime, timedelta


def window_opening_in(after: timedelta, now: datetime) -> tuple[datetime, str]:
    """A weekly one-hour window opening ``after`` from ``now`` (on the minute,
    UTC), and the text of it that ``[policy] install_windows`` takes."""
    opens = (now + after).replace(second=0, microsecond=0)
    closes = opens + timedelta(hours=1)
    return opens, f"{opens:%a} {opens:%H:%M}-{closes:%H:%M}"
