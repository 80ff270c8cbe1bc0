"""Orders and certificates: the model and its lifecycle.

An order for an organization with current validation for its product and
``skip_approval`` issues at once. Otherwise it waits: ``needs_approval``
without ``skip_approval``, else ``pending`` (API.md: not an error) until the
configured delay passes or an admin validates or rejects it. A reissue moves
an issued order through ``reissue_pending`` back to ``issued``; earlier
certificates stay downloadable by their id.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox.ca import (
    CertificateAuthority,
    LeafRequest,
    pem_text,
    serial_text,
    thumbprint,
)
from sandbox.config import Organization, Validation
from sandbox.errors import ApiError, SandboxError
from sandbox.validation import CertificateFields, OrderRequest, parse_csr
from sandbox.validity import certificate_valid_till

PRODUCTS = {
    "ssl_ev_securesite_flex": ("Secure Site EV SSL", "ev"),
    "ssl_securesite_flex": ("Secure Site OV SSL", "ov"),
}
WAITING = ("needs_approval", "pending", "reissue_pending")
FINAL = ("rejected", "canceled", "revoked", "expired")


@dataclass
class IssuedCertificate:
    id: int
    order_id: int
    pem: str
    thumbprint: str
    serial_number: str
    common_name: str
    dns_names: list[str]
    signature_hash: str
    csr: str
    valid_from: datetime
    valid_till: datetime
    created_at: datetime


@dataclass
class Order:
    id: int
    account: str
    product: str
    status: str
    organization_id: int
    common_name: str
    dns_names: list[str]
    csr: str
    signature_hash: str
    order_valid_from: datetime
    order_valid_till: datetime
    cert_valid_till: datetime | None
    alternative_order_id: str | None
    is_renewal: bool
    renewal_of_order_id: int | None
    renewed_thumbprint: str | None
    request_body: dict[str, Any]
    created_at: datetime
    skip_approval: bool
    auto_reissue: bool
    waiting_since: datetime | None
    certificate_id: int | None = None
    certificate_ids: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    status_changes: list[tuple[datetime, str]] = field(default_factory=list)
    renewed_by_order_id: int | None = None

    def set_status(self, status: str, now: datetime) -> None:
        self.status = status
        self.status_changes.append((now, status))

    def fields(self, public_key: Any) -> CertificateFields:
        return CertificateFields(
            self.common_name,
            tuple(self.dns_names),
            self.csr,
            public_key,
            self.signature_hash,
        )


class OrderBook:
    """Every order, certificate and organization; callers hold the lock."""

    def __init__(
        self,
        ca: CertificateAuthority,
        organizations: tuple[Organization, ...],
        balance_orders: int | None = None,
    ) -> None:
        self.ca = ca
        self.organizations = {org.id: org for org in organizations}
        self.orders: dict[int, Order] = {}
        self.certificates: dict[int, IssuedCertificate] = {}
        self.balance_orders = balance_orders
        self.next_order_id = 1000001
        self.next_certificate_id = 2000001
        self.next_request_id = 3000001

    # Placing and reissuing

    def place(
        self,
        account: str,
        product: str,
        request: OrderRequest,
        body: dict[str, Any],
        now: datetime,
    ) -> Order:
        renewed = self._renewed_order(account, request)
        if renewed is not None and self._renewal_stands(renewed):
            raise ApiError.one(
                400,
                "order_already_renewed",
                f"Order {renewed.id} was already renewed by order "
                f"{renewed.renewed_by_order_id}.",
            )
        if self.balance_orders is not None and self.balance_orders <= 0:
            raise ApiError.one(
                400, "insufficient_funds", "The account balance cannot pay this order."
            )

        cert = request.certificate
        order = Order(
            id=self.next_id("next_order_id"),
            account=account,
            product=product,
            status="",
            organization_id=request.organization_id,
            common_name=cert.common_name,
            dns_names=list(cert.dns_names),
            csr=cert.csr,
            signature_hash=cert.signature_hash,
            order_valid_from=now,
            order_valid_till=request.order_valid_till,
            cert_valid_till=request.cert_valid_till,
            alternative_order_id=request.alternative_order_id,
            is_renewal=renewed is not None,
            renewal_of_order_id=request.renewal_of_order_id,
            renewed_thumbprint=request.renewed_thumbprint,
            request_body=body,
            created_at=now,
            skip_approval=request.skip_approval,
            auto_reissue=request.auto_reissue,
            waiting_since=now,
        )
        self.orders[order.id] = order
        if renewed is not None:
            renewed.renewed_by_order_id = order.id
        if self.balance_orders is not None:
            self.balance_orders -= 1
        self._open_request(order, "new_request", cert, now)
        return order

    def reissue(
        self, order: Order, cert: CertificateFields, skip_approval: bool, now: datetime
    ) -> None:
        if order.status != "issued":
            raise ApiError.one(
                400,
                "invalid_order_status",
                f"Order {order.id} is '{order.status}'; only an issued order "
                f"can be reissued.",
            )
        if now >= order.order_valid_till:
            raise ApiError.one(
                400,
                "order_expired",
                f"Order {order.id} ended on {order.order_valid_till.date()}; "
                f"place a renewal order instead.",
            )
        order.common_name = cert.common_name
        order.dns_names = list(cert.dns_names)
        order.csr = cert.csr
        order.signature_hash = cert.signature_hash
        order.skip_approval = skip_approval
        order.cert_valid_till = None
        order.waiting_since = now
        self._open_request(order, "reissue", cert, now)

    def _open_request(
        self, order: Order, kind: str, cert: CertificateFields, now: datetime
    ) -> None:
        approved = order.skip_approval
        order.requests.append(
            {
                "id": self.next_id("next_request_id"),
                "type": kind,
                "status": "approved" if approved else "pending",
                "date": now.isoformat(),
            }
        )
        if approved and self.is_validated(order):
            self.issue(order, cert, now)
        elif kind == "reissue":
            order.set_status("reissue_pending", now)
        else:
            order.set_status("pending" if approved else "needs_approval", now)

    def _renewal_stands(self, renewed: Order) -> bool:
        """Whether an order is renewed by one still alive: a renewal order that
        was rejected or canceled leaves the order free to renew again."""
        renewal_id = renewed.renewed_by_order_id
        if renewal_id is None:
            return False
        renewal = self.orders.get(renewal_id)
        return renewal is None or renewal.status not in ("rejected", "canceled")

    def _renewed_order(self, account: str, request: OrderRequest) -> Order | None:
        if request.renewal_of_order_id is not None:
            return self.orders[request.renewal_of_order_id]
        if request.renewed_thumbprint is not None:
            return self.find(account, request.renewed_thumbprint)
        return None

    # Issuing

    def is_validated(self, order: Order) -> bool:
        needed = PRODUCTS[order.product][1]
        organization = self.organizations[order.organization_id]
        return any(
            v.type == needed and v.status == "active" for v in organization.validations
        )

    def issue(
        self, order: Order, cert: CertificateFields | None, now: datetime
    ) -> None:
        """Sign the order's CSR and mark it issued."""
        if cert is None:
            csr = parse_csr(order.csr)
            if csr is None:
                raise SandboxError(f"order {order.id} holds a CSR that cannot parse")
            cert = order.fields(csr.public_key())
        organization = self.organizations[order.organization_id]
        valid_till = certificate_valid_till(
            now, order.cert_valid_till, order.order_valid_till
        )
        leaf = self.ca.sign(
            LeafRequest(
                public_key=cert.public_key,
                common_name=cert.common_name,
                dns_names=cert.dns_names,
                organization_name=organization.name,
                valid_from=now.replace(microsecond=0),
                valid_till=valid_till,
                signature_hash=cert.signature_hash,
            )
        )
        self.record_certificate(order, leaf, now)
        order.waiting_since = None
        for entry in order.requests:
            entry["status"] = "approved"
        order.set_status("issued", now)

    def record_certificate(self, order: Order, leaf: Any, now: datetime) -> None:
        record = IssuedCertificate(
            id=self.next_id("next_certificate_id"),
            order_id=order.id,
            pem=pem_text(leaf),
            thumbprint=thumbprint(leaf),
            serial_number=serial_text(leaf),
            common_name=order.common_name,
            dns_names=list(order.dns_names),
            signature_hash=order.signature_hash,
            csr=order.csr,
            valid_from=leaf.not_valid_before_utc,
            valid_till=leaf.not_valid_after_utc,
            created_at=now,
        )
        self.certificates[record.id] = record
        order.certificate_ids.append(record.id)
        order.certificate_id = record.id

    def tick(self, now: datetime, pending_delay: timedelta | None) -> None:
        """Issue the waiting orders whose delay has passed."""
        if pending_delay is None:
            return
        for order in self.orders.values():
            since = order.waiting_since
            if order.status in WAITING and since and now - since >= pending_delay:
                self.issue(order, None, now)

    # Admin decisions

    def validate_order(self, order: Order, now: datetime) -> None:
        if order.status not in WAITING:
            raise ApiError.one(
                400,
                "invalid_order_status",
                f"Order {order.id} is '{order.status}'; only a waiting order "
                f"can be validated.",
            )
        self.issue(order, None, now)

    def reject_order(self, order: Order, now: datetime) -> None:
        if order.status not in WAITING:
            raise ApiError.one(
                400,
                "invalid_order_status",
                f"Order {order.id} is '{order.status}'; only a waiting order "
                f"can be rejected.",
            )
        order.waiting_since = None
        for entry in order.requests:
            entry["status"] = "rejected"
        order.set_status("rejected", now)

    def validate_organization(self, organization_id: int, now: datetime) -> None:
        """Make every validation active; its approved pending orders issue."""
        organization = self.organizations[organization_id]
        until = (now + timedelta(days=398)).date()
        self.organizations[organization_id] = dataclasses.replace(
            organization,
            validations=tuple(
                Validation(v.type, "active", until) for v in organization.validations
            ),
        )
        for order in self.orders.values():
            approved = order.skip_approval and order.status in WAITING
            if order.organization_id == organization_id and approved:
                self.issue(order, None, now)

    def cancel(self, order: Order, now: datetime) -> None:
        if order.status in FINAL:
            raise ApiError.one(
                400,
                "invalid_order_status",
                f"Order {order.id} is already '{order.status}'.",
            )
        order.waiting_since = None
        order.set_status("canceled", now)

    # Lookups, always within one account

    def get(self, account: str, order_id: int) -> Order | None:
        order = self.orders.get(order_id)
        return order if order is not None and order.account == account else None

    def find(self, account: str, key: str) -> Order | None:
        """By order id, a certificate's thumbprint or serial number (API.md)."""
        if key.isdigit() and (order := self.get(account, int(key))):
            return order
        wanted = key.upper()
        for record in self.certificates.values():
            if wanted in (record.thumbprint, record.serial_number.upper()):
                return self.get(account, record.order_id)
        return None

    def account_orders(self, account: str) -> list[Order]:
        return [order for order in self.orders.values() if order.account == account]

    def has_thumbprint(self, account: str, value: str) -> bool:
        return self.find(account, value) is not None and len(value) == 40

    def next_id(self, counter: str) -> int:
        value: int = getattr(self, counter)
        setattr(self, counter, value + 1)
        return value
