"""How many days a new certificate may be valid, by the date it is issued.

The CA/Browser Forum baseline requirements (ballot SC-081, API.md "Validity
limits") cap a public TLS certificate at 398 days before 2026-03-15, then 200,
then 100 from 2027-03-15 and 47 from 2029-03-15. A day is 86,400 seconds and
any part of one counts as a whole, so a CA issues one day under each cap.
DigiCert moved early: it has issued at most 199 days since 2026-02-24 (API.md;
DigiCert's "Reissue certificate" page, "Public TLS/SSL certificate validity
periods will continue to decrease"). Hence DigiCert's maximum per issuing
instant:

    before 2026-02-24   397 days   (398 - 1)
    from   2026-02-24   199 days   (DigiCert's own cut, ahead of 200 - 1)
    from   2027-03-15    99 days   (100 - 1)
    from   2029-03-15    46 days   (47 - 1)
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from certrenew.errors import PermanentError

# (issued from, at most this many days), newest first. Each instant is the start
# of that day in UTC: the ballot's dates are calendar days.
_DIGICERT_MAXIMUM_DAYS: tuple[tuple[datetime, int], ...] = (
    (datetime(2029, 3, 15, tzinfo=UTC), 46),
    (datetime(2027, 3, 15, tzinfo=UTC), 99),
    (datetime(2026, 2, 24, tzinfo=UTC), 199),
)
_DIGICERT_MAXIMUM_DAYS_BEFORE_2026 = 397


def max_certificate_validity_days(issued_at: datetime) -> int:
    """DigiCert's longest public TLS certificate, in days, issued at that instant."""
    _require_aware(issued_at)
    for starts_at, maximum_days in _DIGICERT_MAXIMUM_DAYS:
        if issued_at >= starts_at:
            return maximum_days
    return _DIGICERT_MAXIMUM_DAYS_BEFORE_2026


def certificate_validity_days(
    requested_days: int | None, issued_at: datetime, order_valid_till: date | None
) -> int:
    """The ``cert_validity.days`` to ask for a certificate issued at ``issued_at``.

    The configured ``requested_days`` (None: as long as allowed), never more than
    DigiCert's maximum for the issuing date, and never ending after the order's
    (the Multi-year Plan's) last day ``order_valid_till``: a certificate issued
    on day D for N days ends on D + N, which must not be after that day.

    Raises PermanentError when no whole day of the plan is left: only a new
    order can carry the next certificate.
    """
    _require_aware(issued_at)
    if requested_days is not None and requested_days < 1:
        raise PermanentError(
            "certificate validity: cert_validity_days must be at least 1 "
            f"(given: {requested_days})",
            code="invalid_value:cert_validity.days",
        )

    maximum_days = max_certificate_validity_days(issued_at)
    days = maximum_days if requested_days is None else min(requested_days, maximum_days)
    if order_valid_till is None:
        return days

    days_left_on_plan = (order_valid_till - issued_at.astimezone(UTC).date()).days
    if days_left_on_plan < 1:
        raise PermanentError(
            f"certificate validity: the order's plan ends on {order_valid_till}, "
            f"leaving no whole day for a certificate issued at "
            f"{issued_at.isoformat()}; place a renewal order instead",
            code="order_plan_ended",
        )
    return min(days, days_left_on_plan)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"issued_at must be a timezone-aware datetime (given: {moment!r})"
        )
