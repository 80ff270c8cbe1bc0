"""Install windows: the hours in which a renewed certificate may go live.

Ordering runs whenever a certificate is due; installing what DigiCert issued,
and running the post-install command that usually reloads a service, can be
held to the hours an operator allows (FIELD.md complaint 10: no restarts at
peak hours). A window is written ``[DAYS] HH:MM-HH:MM`` in the policy's time
zone:

- ``DAYS`` is a day (``Sat``), a range (``Mon-Fri``; ``Fri-Mon`` wraps past
  Sunday) or a list of either joined by commas (``Tue,Thu``). Without it the
  window opens every day. Full English names work as well as three letters.
- The window starts on those days. An end before its start runs past midnight
  into the next day (``Sat 23:00-03:00`` closes on Sunday); ``24:00`` is the
  midnight that ends a day.
- The hours are wall-clock hours: on the day the clocks change a window keeps
  them, and an hour the change skips is not in it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAY_NAMES = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
MINUTES_PER_DAY = 24 * 60
EXAMPLE = "write [DAYS] HH:MM-HH:MM, e.g. 'Sat 02:00-06:00' or 'Mon-Fri 22:00-23:30'"

_TIME = re.compile(r"(\d{1,2}):(\d{2})")


@dataclass(frozen=True)
class InstallWindow:
    """One window: the weekdays it opens on (Monday is 0) and its hours."""

    days: frozenset[int]
    # Minutes after midnight; ``end`` may be 1440 (24:00) or before ``start``.
    start: int
    end: int

    def span_on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
        """When the window opening on ``day`` opens and closes (UTC), if it does."""
        if day.weekday() not in self.days:
            return None
        closing_day = day if self.end > self.start else day + timedelta(days=1)
        return _wall_clock(day, self.start, zone), _wall_clock(
            closing_day, self.end, zone
        )


def parse_window(text: str) -> InstallWindow:
    """``[DAYS] HH:MM-HH:MM`` as a window; ValueError saying what is wrong."""
    words = text.strip().rsplit(maxsplit=1)
    if not words:
        raise ValueError(f"an install window is empty; {EXAMPLE}")
    hours = words[-1]
    days = _parse_days(text, words[0]) if len(words) == 2 else frozenset(range(7))

    start_text, dash, end_text = hours.partition("-")
    if not dash:
        raise ValueError(f"{text!r} has no hours HH:MM-HH:MM; {EXAMPLE}")
    start = _parse_time(text, start_text)
    end = _parse_time(text, end_text)
    if start == end:
        raise ValueError(
            f"{text!r} opens and closes at the same time, so it is never open; "
            f"{EXAMPLE}"
        )
    if start == MINUTES_PER_DAY:
        raise ValueError(f"{text!r} opens at 24:00; open it at 00:00 the next day")
    return InstallWindow(days=days, start=start, end=end)


def check_time_zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name``; ValueError when there is none."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError) as error:  # KeyError: no such zone file
        raise ValueError(
            f"{name!r} is not an IANA time zone name such as 'UTC' or 'Europe/Berlin'"
        ) from error


@dataclass(frozen=True)
class InstallSchedule:
    """A certificate's install windows, in its time zone; none: any time."""

    windows: tuple[InstallWindow, ...]
    zone: ZoneInfo

    @classmethod
    def parse(cls, windows: Sequence[str], time_zone: str) -> InstallSchedule:
        return cls(
            windows=tuple(parse_window(text) for text in windows),
            zone=check_time_zone(time_zone),
        )

    def next_opening(self, now: datetime) -> datetime | None:
        """None when installing is allowed at ``now``; else when it next is."""
        if not self.windows:
            return None
        today = now.astimezone(self.zone).date()
        openings = []
        # Yesterday's window may still be open past midnight; every window
        # opens on some day of the coming week.
        for offset in range(-1, 8):
            day = today + timedelta(days=offset)
            for window in self.windows:
                span = window.span_on(day, self.zone)
                if span is None:
                    continue
                opens, closes = span
                if opens <= now < closes:
                    return None
                if opens > now:
                    openings.append(opens)
        return min(openings)


def _wall_clock(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """``minutes`` after the midnight starting ``day`` on the zone's clocks, in UTC."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    # Arithmetic on an aware datetime keeps to the wall clock; the offset is
    # applied only when it is turned into UTC.
    return (midnight + timedelta(minutes=minutes)).astimezone(UTC)


def _parse_days(text: str, days_text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in days_text.split(","):
        first, dash, last = part.strip().partition("-")
        begin = _day_number(text, first)
        end = _day_number(text, last) if dash else begin
        days.update((begin + step) % 7 for step in range((end - begin) % 7 + 1))
    return frozenset(days)


def _day_number(text: str, name: str) -> int:
    lowered = name.strip().lower()
    for names in (DAY_NAMES, FULL_DAY_NAMES):
        if lowered in names:
            return names.index(lowered)
    raise ValueError(
        f"{text!r} names an unknown day {name.strip()!r} (Mon, Tue, Wed, Thu, Fri, "
        f"Sat, Sun, or a range such as Mon-Fri); {EXAMPLE}"
    )


def _parse_time(text: str, value: str) -> int:
    match = _TIME.fullmatch(value.strip())
    minutes = None
    if match is not None:
        hour, minute = int(match.group(1)), int(match.group(2))
        if minute < 60:
            minutes = hour * 60 + minute
    if minutes is None or minutes > MINUTES_PER_DAY:
        raise ValueError(
            f"{text!r}: {value.strip()!r} is not a time of day (HH:MM, from 00:00 "
            f"to 24:00); {EXAMPLE}"
        )
    return minutes
