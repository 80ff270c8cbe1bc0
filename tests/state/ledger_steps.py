"""Thumbprints and the common ways forward that the ledger tests start from."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from worker.ledger import Ledger, RenewalRecord, alternative_order_id


def thumbprint_of(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest().upper()  # noqa: S324 - a thumbprint is SHA-1 by definition


OLD = thumbprint_of("old certificate")
NEW = thumbprint_of("new certificate")


def claim(ledger: Ledger, now: datetime, thumbprint: str = OLD) -> bool:
    return ledger.claim(
        thumbprint,
        name="www.example.com",
        source="files:/etc/certs",
        due_at=now + timedelta(days=20),
        now=now,
    )


def submit(
    ledger: Ledger, now: datetime, thumbprint: str = OLD, order_id: int = 101
) -> RenewalRecord:
    claim(ledger, now, thumbprint)
    ledger.record_key_stored(
        thumbprint, key_location="/etc/certs/www.key.pending", now=now
    )
    ledger.record_intent(
        thumbprint,
        action="renew",
        alternative_order_id=alternative_order_id(thumbprint, 1),
        now=now,
    )
    return ledger.record_submitted(
        thumbprint,
        order_id=order_id,
        request_ids=[9001],
        order_status="pending",
        certificate_id=None,
        now=now,
    )


def install(
    ledger: Ledger, now: datetime, thumbprint: str = OLD, order_id: int = 101
) -> RenewalRecord:
    submit(ledger, now, thumbprint, order_id)
    ledger.record_issued(thumbprint, certificate_id=5001, now=now)
    return ledger.record_installed(
        thumbprint,
        new_thumbprint=NEW,
        not_after=now + timedelta(days=199),
        location="/etc/certs/www.pem",
        now=now,
    )
