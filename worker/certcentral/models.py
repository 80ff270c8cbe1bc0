"""What CertCentral answers, as frozen dataclasses read leniently from its JSON.

DigiCert's answers have quirks (API.md, "Quirks seen in real responses"), and
the readers here accept each reading the API is known to use:

- list results leave ``orders`` out when there are none, and ``{}`` is a valid
  empty answer;
- booleans come as ``"1"``/``"0"`` strings, JSON booleans or 0/1;
- dates are ``yyyy-MM-dd`` strings with no time (read as ``datetime.date``);
- PEM text uses ``\\r\\n`` line ends (stored here with ``\\n``);
- token domains name themselves ``name`` or ``dns_name``;
- ids may come as numbers or as numeric strings.

What the readers cannot make sense of raises ``ResponseShapeError`` naming the
field, the rule and the value found; the client turns it into an API error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

_DATE_PREFIX = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_TRUE_STRINGS = frozenset({"1", "true", "yes"})
_FALSE_STRINGS = frozenset({"0", "false", "no", ""})


class ResponseShapeError(ValueError):
    """A field of an answer is missing or holds something the API never sends."""


@dataclass(frozen=True)
class Page:
    """Where a page of a list result sits in the whole."""

    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class Domain:
    """A domain of a new order, with its DCV token when one was asked for."""

    id: int | None
    name: str
    dcv_token: str | None


@dataclass(frozen=True)
class OrderCreated:
    """The 201 answer to a new order or a reissue."""

    id: int
    request_ids: tuple[int, ...]
    # Status of the first request: "pending" or "approved" (API.md).
    request_status: str | None
    certificate_id: int | None
    # Leaf first, then the intermediates, only when issued at once.
    chain_pem: bytes | None
    domains: tuple[Domain, ...]
    dcv_random_value: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderCreated:
        requests = [_mapping(item, "requests[]") for item in _list(data, "requests")]
        statuses = [_optional_str(item, "status") for item in requests]
        return cls(
            id=_int(data, "id"),
            request_ids=tuple(_int(item, "id") for item in requests),
            request_status=statuses[0] if statuses else None,
            certificate_id=_optional_int(data, "certificate_id"),
            chain_pem=_chain_pem(_list(data, "certificate_chain")),
            domains=tuple(_domain(item) for item in _list(data, "domains")),
            dcv_random_value=_optional_str(data, "dcv_random_value"),
        )


@dataclass(frozen=True)
class CertificateInfo:
    """The certificate part of an order; a pending order fills only a few fields."""

    id: int | None
    # SHA-1 of the DER, 40 uppercase hex digits (API.md, "Thumbprints").
    thumbprint: str | None
    serial_number: str | None
    common_name: str | None
    dns_names: tuple[str, ...]
    valid_from: date | None
    valid_till: date | None
    signature_hash: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificateInfo:
        thumbprint = _optional_str(data, "thumbprint")
        return cls(
            id=_optional_int(data, "id"),
            thumbprint=thumbprint.upper() if thumbprint else None,
            serial_number=_optional_str(data, "serial_number"),
            common_name=_optional_str(data, "common_name"),
            dns_names=_names(data, "dns_names"),
            valid_from=_date(data, "valid_from"),
            valid_till=_date(data, "valid_till"),
            signature_hash=_optional_str(data, "signature_hash"),
        )


@dataclass(frozen=True)
class OrderInfo:
    """``GET /order/certificate/{id}``: what renew-or-reissue is decided on."""

    id: int
    status: str
    certificate: CertificateInfo
    # The Multi-year Plan's span; the certificate's own is in ``certificate``.
    order_valid_from: date | None
    order_valid_till: date | None
    is_multi_year_plan: bool
    auto_reissue: bool
    is_renewal: bool
    renewed_order_id: int | None
    alternative_order_id: str | None
    organization_id: int | None
    product_name_id: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderInfo:
        return cls(
            id=_int(data, "id"),
            status=_str(data, "status"),
            certificate=CertificateInfo.from_json(_child(data, "certificate")),
            order_valid_from=_date(data, "order_valid_from"),
            order_valid_till=_date(data, "order_valid_till"),
            is_multi_year_plan=_flag(data, "is_multi_year_plan"),
            auto_reissue=_flag(data, "auto_reissue"),
            is_renewal=_flag(data, "is_renewal"),
            renewed_order_id=_optional_int(data, "renewed_order_id"),
            alternative_order_id=_optional_str(data, "alternative_order_id"),
            organization_id=_optional_int(_child(data, "organization"), "id"),
            product_name_id=_optional_str(_child(data, "product"), "name_id"),
        )


@dataclass(frozen=True)
class OrderSummary:
    """One order of a ``GET /order/certificate`` list."""

    id: int
    status: str
    certificate: CertificateInfo
    product_name_id: str | None
    organization_id: int | None
    is_renewed: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderSummary:
        return cls(
            id=_int(data, "id"),
            status=_str(data, "status"),
            certificate=CertificateInfo.from_json(_child(data, "certificate")),
            product_name_id=_optional_str(_child(data, "product"), "name_id"),
            organization_id=_optional_int(_child(data, "organization"), "id"),
            is_renewed=_flag(data, "is_renewed"),
        )


@dataclass(frozen=True)
class OrderStatus:
    """An order's id, current certificate and status, as two endpoints list them:
    the lookup by ``alternative_order_id`` and the status changes of a window."""

    order_id: int
    certificate_id: int | None
    status: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderStatus:
        return cls(
            order_id=_int(data, "order_id"),
            certificate_id=_optional_int(data, "certificate_id"),
            status=_str(data, "status"),
        )


# The names the two endpoints give their rows.
AlternateOrder = OrderStatus
StatusChange = OrderStatus


@dataclass(frozen=True)
class Organization:
    """An organization of the account, with the end of its EV validation."""

    id: int
    name: str
    status: str | None
    ev_validated_until: date | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Organization:
        validations = [
            _mapping(item, "validations[]") for item in _list(data, "validations")
        ]
        ev = [item for item in validations if item.get("type") == "ev"]
        return cls(
            id=_int(data, "id"),
            name=_str(data, "name"),
            status=_optional_str(data, "status"),
            ev_validated_until=_date(ev[0], "validated_until") if ev else None,
        )


def parse_orders(data: Mapping[str, Any]) -> tuple[list[OrderSummary], Page | None]:
    """A page of the order list; ``orders`` is absent when there are none."""
    orders = [OrderSummary.from_json(_mapping(o, "orders[]")) for o in _orders(data)]
    return orders, _page(data)


def parse_alternate_orders(data: Mapping[str, Any]) -> list[AlternateOrder]:
    return [AlternateOrder.from_json(_mapping(o, "orders[]")) for o in _orders(data)]


def parse_status_changes(data: Mapping[str, Any]) -> list[StatusChange]:
    return [StatusChange.from_json(_mapping(o, "orders[]")) for o in _orders(data)]


def parse_organizations(data: Mapping[str, Any]) -> list[Organization]:
    return [
        Organization.from_json(_mapping(item, "organizations[]"))
        for item in _list(data, "organizations")
    ]


def normalize_pem(text: str) -> bytes:
    """PEM text with ``\\n`` line ends and one final newline."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    try:
        return (lines + "\n").encode("ascii")
    except UnicodeEncodeError as error:
        raise ResponseShapeError(
            f"PEM text holds a non-ASCII character at {error.start}"
        ) from error


def _orders(data: Mapping[str, Any]) -> list[Any]:
    return _list(data, "orders")


def _page(data: Mapping[str, Any]) -> Page | None:
    page = data.get("page")
    if page is None:
        return None
    page = _mapping(page, "page")
    return Page(
        total=_int(page, "total"),
        limit=_optional_int(page, "limit") or 0,
        offset=_optional_int(page, "offset") or 0,
    )


def _chain_pem(chain: list[Any]) -> bytes | None:
    pems = [_str(_mapping(item, "certificate_chain[]"), "pem") for item in chain]
    if not pems:
        return None
    return b"".join(normalize_pem(pem) for pem in pems)


def _domain(item: Any) -> Domain:
    domain = _mapping(item, "domains[]")
    # API.md: "name" is unconfirmed; some clients read "dns_name".
    name = _optional_str(domain, "name") or _optional_str(domain, "dns_name")
    if name is None:
        raise ResponseShapeError(
            f"domains[]: neither 'name' nor 'dns_name' is set (got {domain!r})"
        )
    token = domain.get("dcv_token")
    token_value = _optional_str(token, "token") if isinstance(token, Mapping) else None
    return Domain(id=_optional_int(domain, "id"), name=name, dcv_token=token_value)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ResponseShapeError(f"{where}: expected an object, got {value!r}")
    return value


def _child(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return {} if value is None else _mapping(value, key)


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ResponseShapeError(f"{key}: expected a list, got {value!r}")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = _optional_int(data, key)
    if value is None:
        raise ResponseShapeError(f"{key}: required, missing")
    return value


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ResponseShapeError(f"{key}: expected an integer id, got {value!r}")


def _str(data: Mapping[str, Any], key: str) -> str:
    value = _optional_str(data, key)
    if value is None:
        raise ResponseShapeError(f"{key}: required, missing")
    return value


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ResponseShapeError(f"{key}: expected a string, got {value!r}")
    return str(value)


def _names(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    names = _list(data, key)
    if not all(isinstance(name, str) for name in names):
        raise ResponseShapeError(f"{key}: expected a list of names, got {names!r}")
    return tuple(names)


def _flag(data: Mapping[str, Any], key: str) -> bool:
    """A boolean sent as true/false, 1/0 or "1"/"0"; absent means false."""
    value = data.get(key)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE_STRINGS:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE_STRINGS:
        return False
    raise ResponseShapeError(f"{key}: expected a boolean or 1/0, got {value!r}")


def _date(data: Mapping[str, Any], key: str) -> date | None:
    """A ``yyyy-MM-dd`` date; a longer ISO timestamp is cut to its date."""
    value = data.get(key)
    if value is None or value == "":
        return None
    match = _DATE_PREFIX.match(value) if isinstance(value, str) else None
    if match is None:
        raise ResponseShapeError(f"{key}: expected a yyyy-MM-dd date, got {value!r}")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as error:
        raise ResponseShapeError(
            f"{key}: not a calendar date, got {value!r}"
        ) from error
