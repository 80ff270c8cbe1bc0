"""Admin routes under `/admin` (only with ``admin=True``; no API key).

They let the demo, tests and benchmarks see every order placed, seed issued
orders, decide waiting ones, move the clock, set faults and count calls.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sandbox.ca import LeafRequest, pem_text
from sandbox.errors import ApiError, SandboxConfigError, not_found
from sandbox.orders import PRODUCTS, Order
from sandbox.routing import Answer, Call, Route
from sandbox.service import SandboxService
from sandbox.validation import parse_csr
from sandbox.views import chain_json


def list_orders(service: SandboxService, call: Call) -> Answer:
    return Answer(
        200, {"orders": [_order_json(o) for o in service.book.orders.values()]}
    )


def _order_json(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "account": order.account,
        "product": order.product,
        "status": order.status,
        "alternative_order_id": order.alternative_order_id,
        "is_renewal": order.is_renewal,
        "renewal_of_order_id": order.renewal_of_order_id,
        "renewed_thumbprint": order.renewed_thumbprint,
        "request": order.request_body,
        "certificate_ids": order.certificate_ids,
        "created": order.created_at.isoformat(),
    }


def seed_order(service: SandboxService, call: Call) -> Answer:
    """An issued order with exactly the (back-dated) validity asked for."""
    body = call.json()
    if not isinstance(body, dict):
        raise ApiError.one(400, "bad_request_format", "Send a JSON object.")
    problems = [name for name in ("common_name", "csr", "valid_from", "valid_till")
                if not isinstance(body.get(name), str)]  # fmt: skip
    if problems:
        raise ApiError.one(
            400,
            f"missing_param:{problems[0]}",
            f"Seeding needs string fields: {', '.join(problems)}.",
        )
    csr = parse_csr(body["csr"])
    if csr is None:
        raise ApiError.one(400, "csr_invalid_cannot_parse", "The CSR cannot be parsed.")
    product = body.get("product", "ssl_ev_securesite_flex")
    organization_id = body.get("organization_id", 112233)
    if product not in PRODUCTS or organization_id not in service.book.organizations:
        raise ApiError.one(
            400, "invalid_value:product", f"Unknown product {product!r} or "
            f"organization {organization_id!r}.",
        )  # fmt: skip

    valid_from = _moment(body["valid_from"])
    valid_till = _moment(body["valid_till"])
    order_till = (
        _moment(body["order_valid_till"]) if "order_valid_till" in body
        else valid_from + timedelta(days=365)
    )  # fmt: skip
    book = service.book
    order = Order(
        id=book.next_id("next_order_id"), account=str(body.get("account", "default")),
        product=product, status="issued", organization_id=organization_id,
        common_name=body["common_name"], dns_names=list(body.get("dns_names", [])),
        csr=body["csr"], signature_hash=body.get("signature_hash", "sha256"),
        order_valid_from=valid_from, order_valid_till=order_till,
        cert_valid_till=None, alternative_order_id=None, is_renewal=False,
        renewal_of_order_id=None, renewed_thumbprint=None, request_body=body,
        created_at=valid_from, skip_approval=True, auto_reissue=False,
        waiting_since=None,
    )  # fmt: skip
    leaf = book.ca.sign(
        LeafRequest(
            public_key=order.fields(csr.public_key()).public_key,
            common_name=order.common_name,
            dns_names=tuple(order.dns_names),
            organization_name=book.organizations[organization_id].name,
            valid_from=valid_from,
            valid_till=valid_till,
            signature_hash=order.signature_hash,
        )
    )
    book.orders[order.id] = order
    request_id = book.next_id("next_request_id")
    order.requests.append(
        {
            "id": request_id,
            "type": "new_request",
            "status": "approved",
            "date": valid_from.isoformat(),
        }
    )
    book.record_certificate(order, leaf, valid_from)
    order.status_changes.append((valid_from, "issued"))
    record = book.certificates[order.certificate_id or 0]
    pem_all = "".join(
        entry["pem"] for entry in chain_json(book.ca, record.common_name, record.pem)
    )
    return Answer(201, {
        "order_id": order.id, "certificate_id": record.id,
        "thumbprint": record.thumbprint, "serial_number": record.serial_number,
        "pem_all": pem_all,
    })  # fmt: skip


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise ApiError.one(
            400, "invalid_value:date", f"Not an ISO 8601 time: {text!r}."
        ) from error
    if moment.tzinfo is None:
        raise ApiError.one(
            400, "invalid_value:date", f"Times need a UTC offset: {text!r}."
        )
    return moment


def validate_order(service: SandboxService, call: Call) -> Answer:
    service.book.validate_order(_any_order(service, call), service.now())
    return Answer(200, {"status": "issued"})


def reject_order(service: SandboxService, call: Call) -> Answer:
    service.book.reject_order(_any_order(service, call), service.now())
    return Answer(200, {"status": "rejected"})


def validate_organization(service: SandboxService, call: Call) -> Answer:
    organization_id = call.int_param("organization_id", "organization")
    if organization_id not in service.book.organizations:
        raise not_found("organization", str(organization_id))
    service.book.validate_organization(organization_id, service.now())
    return Answer(200, {"id": organization_id, "status": "validated"})


def advance_clock(service: SandboxService, call: Call) -> Answer:
    body = call.json()
    seconds = body.get("advance_seconds") if isinstance(body, dict) else None
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise ApiError.one(
            400,
            "invalid_value:advance_seconds",
            f"'advance_seconds' must be a number of seconds >= 0; {seconds!r} given.",
        )
    service.advance_clock(float(seconds))
    return Answer(200, {"now": service.now().isoformat()})


def get_faults(service: SandboxService, call: Call) -> Answer:
    return Answer(200, service.faults.to_json())


def put_faults(service: SandboxService, call: Call) -> Answer:
    body = call.json()
    if not isinstance(body, dict):
        raise ApiError.one(400, "bad_request_format", "Send a JSON object.")
    try:
        service.faults.update(body)
    except SandboxConfigError as error:
        raise ApiError.one(400, "invalid_value:faults", str(error)) from error
    return Answer(200, service.faults.to_json())


def requests(service: SandboxService, call: Call) -> Answer:
    return Answer(200, service.requests_json())


def ca(service: SandboxService, call: Call) -> Answer:
    authority = service.book.ca
    return Answer(200, {
        "root": pem_text(authority.root),
        "intermediates": [pem_text(c) for c in authority.intermediates],
    })  # fmt: skip


def _any_order(service: SandboxService, call: Call) -> Order:
    order_id = call.int_param("order_id", "order")
    order = service.book.orders.get(order_id)
    if order is None:
        raise not_found("order", str(order_id))
    return order


ROUTES = [
    Route.of("GET", "/orders", list_orders),
    Route.of("POST", "/orders", seed_order),
    Route.of("POST", "/orders/{order_id}/validate", validate_order),
    Route.of("POST", "/orders/{order_id}/reject", reject_order),
    Route.of(
        "POST", "/organizations/{organization_id}/validate", validate_organization
    ),
    Route.of("POST", "/clock", advance_clock),
    Route.of("GET", "/faults", get_faults),
    Route.of("PUT", "/faults", put_faults),
    Route.of("GET", "/requests", requests),
    Route.of("GET", "/ca", ca),
]
