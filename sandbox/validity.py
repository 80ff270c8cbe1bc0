"""How long certificates and orders may run (API.md, Validity limits).

Pure functions of the issuing time. CAs stay one day under each CA/Browser
Forum maximum (ballot SC-081); DigiCert has issued for at most 199 days since
2026-02-24, ahead of the 200-day step.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

# (issued from, maximum days), newest first.
MAX_CERTIFICATE_DAYS: tuple[tuple[datetime, int], ...] = (
    (datetime(2029, 3, 15, tzinfo=UTC), 46),
    (datetime(2027, 3, 15, tzinfo=UTC), 99),
    (datetime(2026, 2, 24, tzinfo=UTC), 199),
)
MAX_CERTIFICATE_DAYS_BEFORE = 397

ORDER_MAX_YEARS = 3
ORDER_MAX_DAYS = 1095
CERT_VALIDITY_MAX_DAYS = 397
CUSTOM_DATE_FORMAT = "%d %b %Y"  # "09 JUN 2025" (dd MMM YYYY)


def max_certificate_days(now: datetime) -> int:
    for start, days in MAX_CERTIFICATE_DAYS:
        if now >= start:
            return days
    return MAX_CERTIFICATE_DAYS_BEFORE


def parse_custom_date(text: str) -> date | None:
    """A ``dd MMM YYYY`` date (month in any case), or None if malformed."""
    try:
        return (
            datetime.strptime(text.title(), CUSTOM_DATE_FORMAT)
            .replace(tzinfo=UTC)
            .date()
        )
    except ValueError:
        return None


def end_of_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a year that has none
        return moment.replace(year=moment.year + years, day=28)


def certificate_valid_till(
    now: datetime, requested_till: datetime | None, order_valid_till: datetime
) -> datetime:
    """The shortest of: what was asked, the order's end, the CA/B maximum."""
    limit = now + timedelta(days=max_certificate_days(now))
    candidates = [limit, order_valid_till]
    if requested_till is not None:
        candidates.append(requested_till)
    return min(candidates).replace(microsecond=0)


def date_text(moment: datetime) -> str:
    """Dates in order info are ``yyyy-MM-dd`` with no time (API.md)."""
    return moment.date().isoformat()
