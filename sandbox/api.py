"""The `/services/v2` routes: DigiCert's status codes and body shapes."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from cryptography import x509

from sandbox.errors import ApiError, not_found
from sandbox.orders import PRODUCTS, IssuedCertificate, Order
from sandbox.routing import Answer, Call, Route
from sandbox.service import SandboxService
from sandbox.validation import (
    TOKEN_DCV_METHODS,
    parse_csr,
    validate_order,
    validate_reissue,
)
from sandbox.views import (
    chain_json,
    listing,
    order_json,
    order_summary,
    organization_json,
    page_json,
)

MAX_LIST_LIMIT = 1000
MAX_STATUS_WINDOW = timedelta(days=7)
PEM_FORMATS = ("pem_all", "pem_noroot", "pem_nointermediate")


def place_order(service: SandboxService, call: Call) -> Answer:
    product = call.params["product"]
    if product not in PRODUCTS:
        raise not_found("product", product)
    body = call.json()
    now = service.now()
    request = validate_order(body, now, service.lookup(call.account), product=product)
    order = service.book.place(call.account, product, request, body, now)
    answer = Answer(201, creation_json(service, order))
    if request.dcv_method in TOKEN_DCV_METHODS:
        token = secrets.token_hex(16)
        answer.body["dcv_random_value"] = token
        answer.body["domains"] = [
            {"id": index + 1, "name": name, "dcv_token": {"token": token}}
            for index, name in enumerate(
                dict.fromkeys([order.common_name, *order.dns_names])
            )
        ]
    return _maybe_drop(service, answer)


def reissue(service: SandboxService, call: Call) -> Answer:
    order = _order(service, call)
    csr = parse_csr(order.csr)
    defaults = order.fields(csr.public_key()) if csr else None
    certificate, skip_approval = validate_reissue(call.json(), defaults)
    service.book.reissue(order, certificate, skip_approval, service.now())
    return _maybe_drop(service, Answer(201, creation_json(service, order)))


def creation_json(service: SandboxService, order: Order) -> dict[str, Any]:
    latest = order.requests[-1]
    body: dict[str, Any] = {
        "id": order.id,
        "requests": [{"id": latest["id"], "status": latest["status"]}],
    }
    if order.status == "issued" and order.certificate_id is not None:
        record = service.book.certificates[order.certificate_id]
        body["certificate_id"] = record.id
        body["certificate_chain"] = chain_json(
            service.book.ca, record.common_name, record.pem
        )
    return body


def _maybe_drop(service: SandboxService, answer: Answer) -> Answer:
    """The nasty fault: the order exists, the client never hears of it."""
    answer.drop_connection = service.faults.drop_after_create_hits()
    return answer


def order_info(service: SandboxService, call: Call) -> Answer:
    order = service.book.find(call.account, call.params["id"])
    if order is None:
        raise not_found("order", call.params["id"])
    return Answer(200, order_json(service.book, order, service.now()))


def list_orders(service: SandboxService, call: Call) -> Answer:
    limit = _int_query(call, "limit", MAX_LIST_LIMIT, 1, MAX_LIST_LIMIT)
    offset = _int_query(call, "offset", 0, 0, None)
    status = call.query("filters[status]")
    common_name = call.query("filters[common_name]")
    matching = [
        order
        for order in service.book.account_orders(call.account)
        if status in (None, order.status) and common_name in (None, order.common_name)
    ]
    now = service.now()
    items = [
        order_json(service.book, o, now) for o in matching[offset : offset + limit]
    ]
    return Answer(
        200, listing("orders", items, page_json(len(matching), limit, offset))
    )


def alternate(service: SandboxService, call: Call) -> Answer:
    wanted = call.params["alternative_order_id"]
    found = [
        order_summary(order)
        for order in service.book.account_orders(call.account)
        if order.alternative_order_id == wanted
    ]
    return Answer(200, listing("orders", found, page_json(len(found), 0, 0)))


def status_changes(service: SandboxService, call: Call) -> Answer:
    minutes, seconds = call.query("minutes"), call.query("seconds")
    if minutes is None and seconds is None:
        raise ApiError.one(
            400, "missing_param:minutes", "Give 'minutes' or 'seconds' for the window."
        )
    name, text = ("seconds", seconds) if seconds is not None else ("minutes", minutes)
    if text is None or not text.isdigit() or int(text) < 1:
        raise ApiError.one(
            400,
            f"invalid_value:{name}",
            f"The parameter '{name}' must be a positive integer; {text!r} given.",
        )
    window = timedelta(**{name: int(text)})
    if window > MAX_STATUS_WINDOW:
        raise ApiError.one(
            400, "time_frame_too_long", "The time frame must be at most 7 days."
        )
    since = service.now() - window
    changed = [
        order_summary(order)
        for order in service.book.account_orders(call.account)
        if any(when >= since for when, _ in order.status_changes)
    ]
    return Answer(200, {"orders": changed} if changed else {})


def download_certificate(service: SandboxService, call: Call) -> Answer:
    certificate_id = call.int_param("certificate_id", "certificate")
    record = service.book.certificates.get(certificate_id)
    if record is None or service.book.get(call.account, record.order_id) is None:
        raise not_found("certificate", str(certificate_id))
    return _download(service, record, call.params["format"])


def download_for_order(service: SandboxService, call: Call) -> Answer:
    order = _order(service, call)
    if order.certificate_id is None:
        raise not_found("certificate", f"order {order.id}")
    record = service.book.certificates[order.certificate_id]
    return _download(service, record, call.params["format"])


def _download(
    service: SandboxService, record: IssuedCertificate, format_name: str
) -> Answer:
    ca = service.book.ca
    leaf = x509.load_pem_x509_certificate(record.pem.encode())
    if format_name == "p7b":
        return Answer(
            200, raw=ca.p7b(leaf), content_type="application/x-pkcs7-certificates"
        )
    if format_name not in PEM_FORMATS:
        raise ApiError.one(
            400,
            "invalid_value:format_type",
            f"The format must be one of {', '.join((*PEM_FORMATS, 'p7b'))}; "
            f"{format_name!r} given.",
        )
    chain = chain_json(ca, record.common_name, record.pem)
    if format_name == "pem_noroot":
        chain = chain[:-1]
    elif format_name == "pem_nointermediate":
        chain = chain[:1]
    text = "".join(entry["pem"] for entry in chain)
    return Answer(200, raw=text.encode(), content_type="application/x-pem-file")


def cancel(service: SandboxService, call: Call) -> Answer:
    order = _order(service, call)
    body = call.json()
    status = body.get("status") if isinstance(body, dict) else None
    if status != "canceled":
        raise ApiError.one(
            400,
            "invalid_value:status",
            f"The field 'status' must be 'canceled'; {status!r} given.",
        )
    service.book.cancel(order, service.now())
    return Answer(204)


def organizations(service: SandboxService, call: Call) -> Answer:
    items = [organization_json(org) for org in service.book.organizations.values()]
    return Answer(
        200, {"organizations": items, "page": page_json(len(items), len(items), 0)}
    )


def _order(service: SandboxService, call: Call) -> Order:
    order_id = call.int_param("order_id", "order")
    order = service.book.get(call.account, order_id)
    if order is None:
        raise not_found("order", str(order_id))
    return order


def _int_query(call: Call, name: str, default: int, low: int, high: int | None) -> int:
    text = call.query(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
        raise ApiError.one(
            400,
            f"invalid_value:{name}",
            f"The parameter '{name}' must be an integer from {low}"
            f"{f' to {high}' if high else ''}; {text!r} given.",
        )
    return int(text)


ROUTES = [
    Route.of("POST", "/order/certificate/{order_id}/reissue", reissue),
    Route.of("PUT", "/order/certificate/{order_id}/status", cancel),
    Route.of("GET", "/order/certificate/status-changes", status_changes),
    Route.of("POST", "/order/certificate/{product}", place_order),
    Route.of("GET", "/order/certificate/{id}", order_info),
    Route.of("GET", "/order/certificate", list_orders),
    Route.of("GET", "/order/alternate/{alternative_order_id}", alternate),
    Route.of(
        "GET", "/certificate/{certificate_id}/download/format/{format}",
        download_certificate,
    ),
    Route.of(
        "GET", "/certificate/download/order/{order_id}/format/{format}",
        download_for_order,
    ),
    Route.of("GET", "/organization", organizations),
]  # fmt: skip
