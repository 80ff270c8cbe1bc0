"""Spreading never pushes a due certificate past its safety margin (issue 5)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from certrenew.config import OrderSettings, PolicySettings
from certrenew.inventory import CertificateFacts, Entry
from scheduler.policy import renewal_due
from scheduler.spreading import spread_delay_seconds

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
LIFETIMES_DAYS = (1, 7, 30, 47, 90, 199, 397)
POLICIES = (
    PolicySettings(),
    PolicySettings(floor_days=0, spread_hours=24 * 14),
    PolicySettings(floor_days=10, spread_hours=72, renew_fraction=0.5),
)


def entry_for(lifetime_days: float, policy: PolicySettings, serial: int) -> Entry:
    facts = CertificateFacts.of(
        subject="CN=www.example.com", common_name="www.example.com",
        dns_names=(), key_type="ec", key_size=256, signature_hash="sha256",
        not_before=ISSUED, not_after=ISSUED + timedelta(days=lifetime_days),
        thumbprint=hashlib.sha1(str(serial).encode()).hexdigest().upper(),  # noqa: S324 - a test thumbprint
        serial_number=f"{serial:x}", issuer="CN=Example CA",
    )  # fmt: skip
    return Entry(name=f"c{serial}", source="files:/x", location="/x", key_location="/k",
                 facts=facts, order=OrderSettings(), policy=policy)  # fmt: skip


def test_no_due_certificate_is_delayed_past_its_safety_margin() -> None:
    checked = 0
    for policy_index, policy in enumerate(POLICIES):
        for lifetime_days in LIFETIMES_DAYS:
            for serial in range(8):
                entry = entry_for(lifetime_days, policy, serial * 100 + policy_index)
                not_after = entry.facts.not_after
                floor_at = not_after - timedelta(days=policy.floor_days)
                for step in range(101):
                    now = ISSUED + (not_after - ISSUED) * (step / 100)
                    due = renewal_due(entry.facts, policy, now)
                    if not due.is_due:
                        continue
                    delay = timedelta(seconds=spread_delay_seconds(entry, due, now=now))
                    checked += 1
                    assert delay >= timedelta(0)
                    if now >= floor_at:
                        assert delay == timedelta(0), (lifetime_days, step)
                    else:
                        # At most half the slack: retries keep the other half.
                        assert now + delay <= floor_at - (floor_at - now) / 2 + (
                            timedelta(seconds=1)
                        ), (lifetime_days, step, delay)
    assert checked > 1000
