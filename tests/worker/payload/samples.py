"""The certificate, entry and order payload the payload tests start from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from certrenew.config import OrderSettings, PolicySettings
from certrenew.errors import PayloadError
from certrenew.inventory.entry import CertificateFacts, Entry
from worker.payload import (
    build_order_payload,
    check_order_payload,
)

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
THUMBPRINT = "A" * 40


def facts(
    common_name: str | None = "www.example.com",
    dns_names: tuple[str, ...] = ("www.example.com", "example.com", "api.example.com"),
) -> CertificateFacts:
    return CertificateFacts.of(
        subject=f"CN={common_name}",
        common_name=common_name,
        dns_names=dns_names,
        key_type="ec",
        key_size=256,
        signature_hash="sha256",
        not_before=datetime(2025, 11, 1, tzinfo=UTC),
        not_after=datetime(2026, 5, 20, tzinfo=UTC),
        thumbprint=THUMBPRINT,
        serial_number="0A1B",
        issuer="CN=Test Intermediate 2",
    )


def entry(**order: Any) -> Entry:
    settings = {"organization_id": 12345, **order}
    return Entry(
        name="www",
        source="files:certs",
        location="certs/www.pem",
        key_location="certs/www.key",
        facts=facts(),
        order=OrderSettings(**settings),
        policy=PolicySettings(),
    )


def order_payload(csr_pem: str, **order: Any) -> dict[str, Any]:
    return build_order_payload(
        entry(**order),
        csr_pem=csr_pem,
        alternative_order_id="certrenew-" + "a" * 20,
        validity_days=199,
        renewal_of_order_id=None,
    )


def problems_of(payload: dict[str, Any]) -> list[str]:
    with pytest.raises(PayloadError) as caught:
        check_order_payload(payload, now=NOW)
    return caught.value.problems
