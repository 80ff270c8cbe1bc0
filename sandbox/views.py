"""JSON shapes of CertCentral answers, with the quirks API.md lists.

Dates are ``yyyy-MM-dd``; ``is_multi_year_plan`` is the string "1" or "0";
PEM text carries ``\\r\\n``; lists leave out ``orders`` when empty.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sandbox.ca import CertificateAuthority, common_name_of, pem_text
from sandbox.config import Organization
from sandbox.orders import PRODUCTS, IssuedCertificate, Order, OrderBook
from sandbox.validity import date_text

MULTI_YEAR_AFTER = timedelta(days=366)


def product_json(product: str) -> dict[str, str]:
    return {"name_id": product, "name": PRODUCTS[product][0], "type": "ssl_certificate"}


def certificate_json(
    order: Order, record: IssuedCertificate | None, now: datetime
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "common_name": order.common_name,
        "dns_names": list(dict.fromkeys([order.common_name, *order.dns_names])),
        "csr": order.csr,
        "signature_hash": order.signature_hash,
        "organization": {"id": order.organization_id},
        "server_platform": {"id": -1, "name": "OTHER", "install_url": ""},
    }
    if record is not None:
        body.update(
            id=record.id,
            thumbprint=record.thumbprint,
            serial_number=record.serial_number,
            date_created=record.created_at.isoformat(timespec="seconds"),
            valid_from=date_text(record.valid_from),
            valid_till=date_text(record.valid_till),
            days_remaining=max(0, (record.valid_till - now).days),
        )
    return body


def order_json(book: OrderBook, order: Order, now: datetime) -> dict[str, Any]:
    record = book.certificates.get(order.certificate_id or 0)
    organization = book.organizations[order.organization_id]
    multi_year = order.order_valid_till - order.order_valid_from > MULTI_YEAR_AFTER
    body: dict[str, Any] = {
        "id": order.id,
        "certificate": certificate_json(order, record, now),
        "status": order.status,
        "is_renewed": order.renewed_by_order_id is not None,
        "date_created": order.created_at.isoformat(timespec="seconds"),
        "organization": {"id": organization.id, "name": organization.name},
        "order_valid_from": date_text(order.order_valid_from),
        "order_valid_till": date_text(order.order_valid_till),
        "is_multi_year_plan": "1" if multi_year else "0",
        "auto_reissue": 1 if order.auto_reissue else 0,
        "is_renewal": order.is_renewal,
        "product": product_json(order.product),
        "requests": [
            {key: entry[key] for key in ("id", "date", "type", "status")}
            for entry in order.requests
        ],
        "disable_renewal_notifications": False,
    }
    if order.renewal_of_order_id is not None or order.is_renewal:
        body["renewed_order_id"] = order.renewal_of_order_id or renewed_id(book, order)
    if order.alternative_order_id is not None:
        body["alternative_order_id"] = order.alternative_order_id
    return body


def renewed_id(book: OrderBook, order: Order) -> int | None:
    for other in book.orders.values():
        if other.renewed_by_order_id == order.id:
            return other.id
    return None


def order_summary(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "certificate_id": order.certificate_id,
        "status": order.status,
    }


def chain_json(
    ca: CertificateAuthority, leaf_common_name: str, leaf_pem: str
) -> list[dict[str, str]]:
    """``certificate_chain``: leaf first, then intermediates and the root."""
    chain = [{"subject_common_name": leaf_common_name, "pem": leaf_pem}]
    for certificate in [*ca.intermediates, ca.root]:
        chain.append(
            {
                "subject_common_name": common_name_of(certificate),
                "pem": pem_text(certificate),
            }
        )
    return chain


def organization_json(organization: Organization) -> dict[str, Any]:
    return {
        "id": organization.id,
        "name": organization.name,
        "status": "active",
        "validations": [
            {
                "type": v.type,
                "name": v.type.upper(),
                "status": v.status,
                **(
                    {"validated_until": v.validated_until.isoformat()}
                    if v.validated_until
                    else {}
                ),
            }
            for v in organization.validations
        ],
    }


def page_json(total: int, limit: int, offset: int) -> dict[str, int]:
    return {"total": total, "limit": limit, "offset": offset}


def listing(key: str, items: list[Any], page: dict[str, int]) -> dict[str, Any]:
    """A list answer; the list key is absent when empty (API.md, Quirks)."""
    body: dict[str, Any] = {key: items} if items else {}
    body["page"] = page
    return body
