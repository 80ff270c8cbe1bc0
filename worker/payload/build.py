"""The bodies of a renewal order and of a reissue, sending only what is set."""

from __future__ import annotations

from typing import Any

from certrenew.config import Contact
from certrenew.errors import PermanentError
from certrenew.inventory.entry import CertificateFacts, Entry


def ordered_names(facts: CertificateFacts) -> tuple[str, tuple[str, ...]]:
    """The common name to order and the other DNS names, each once, in order.

    A certificate without a common name is ordered under its first SAN.
    """
    common_name = facts.common_name or (facts.dns_names[0] if facts.dns_names else "")
    if not common_name:
        raise PermanentError(
            f"certificate {facts.thumbprint}: has neither a common name nor a "
            "DNS name to order",
            code="no_names",
        )
    others = tuple(
        name for name in dict.fromkeys(facts.dns_names) if name != common_name
    )
    return common_name, others


def build_order_payload(
    entry: Entry,
    *,
    csr_pem: str,
    alternative_order_id: str,
    validity_days: int,
    renewal_of_order_id: int | None,
    previous_organization_id: int | None = None,
) -> dict[str, Any]:
    """The body of a renewal order for ``entry.order.product``.

    Without an organization in the settings, the renewal is ordered for the
    organization of the order it renews (``previous_organization_id``): an EV
    certificate names its organization, and the renewal must name the same.
    """
    settings = entry.order
    payload: dict[str, Any] = {
        "certificate": _certificate(
            entry, csr_pem=csr_pem, validity_days=validity_days
        ),
        "order_validity": {"years": settings.order_validity_years},
        "renewed_thumbprint": entry.facts.thumbprint,
        "alternative_order_id": alternative_order_id,
        "skip_approval": settings.skip_approval,
        # The page types these two as int 0/1, not bool.
        "auto_reissue": int(settings.auto_reissue),
        "auto_renew": int(settings.auto_renew),
        "disable_renewal_notifications": settings.disable_renewal_notifications,
        "disable_ct": settings.disable_ct,
        "payment_method": settings.payment_method,
    }
    organization_id = settings.organization_id or previous_organization_id
    if organization_id is not None:
        payload["organization"] = {"id": organization_id}
    if renewal_of_order_id is not None:
        payload["renewal_of_order_id"] = renewal_of_order_id
    if settings.container_id is not None:
        payload["container"] = {"id": settings.container_id}
    if settings.additional_emails:
        payload["additional_emails"] = list(settings.additional_emails)
    if settings.custom_fields:
        payload["custom_fields"] = [
            {"metadata_id": field.metadata_id, "value": field.value}
            for field in settings.custom_fields
        ]
    if settings.organization_contact is not None:
        payload["organization_contact"] = _contact(settings.organization_contact)
    if settings.technical_contact is not None:
        payload["technical_contact"] = _contact(settings.technical_contact)
    # "Not allowed if guest access is disabled in your account settings": sent
    # only when the operator set it, so an account without guest access works.
    if settings.enable_guest_access is not None:
        payload["enable_guest_access"] = int(settings.enable_guest_access)
    for name in ("dcv_method", "comments", "locale", "custom_renewal_message"):
        value = getattr(settings, name)
        if value is not None:
            payload[name] = value
    return payload


def build_reissue_payload(
    entry: Entry, *, csr_pem: str, validity_days: int
) -> dict[str, Any]:
    """The body of ``POST /order/certificate/{order_id}/reissue`` (API.md)."""
    certificate = _certificate(entry, csr_pem=csr_pem, validity_days=validity_days)
    return {"certificate": certificate, "skip_approval": entry.order.skip_approval}


def _certificate(entry: Entry, *, csr_pem: str, validity_days: int) -> dict[str, Any]:
    settings = entry.order
    common_name, other_names = ordered_names(entry.facts)
    certificate: dict[str, Any] = {"common_name": common_name}
    if other_names:
        certificate["dns_names"] = list(other_names)
    certificate["csr"] = csr_pem
    certificate["signature_hash"] = settings.signature_hash
    certificate["server_platform"] = {"id": settings.server_platform_id}
    certificate["cert_validity"] = {"days": validity_days}
    if settings.profile_option is not None:
        certificate["profile_option"] = settings.profile_option
    if settings.ca_cert_id is not None:
        certificate["ca_cert_id"] = settings.ca_cert_id
    return certificate


def _contact(contact: Contact) -> dict[str, str]:
    return {
        name: value for name, value in contact.model_dump().items() if value is not None
    }
