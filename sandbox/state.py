"""Saving and restoring a sandbox's state as JSON, written atomically.

The file holds the CA (so old certificates still chain after a restart), the
organizations, every order and certificate, the id counters and the clock's
offset. It is sandbox data: the CA key in it signs nothing trusted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sandbox.ca import CertificateAuthority
from sandbox.config import Organization, Validation
from sandbox.errors import SandboxConfigError
from sandbox.orders import IssuedCertificate, Order, OrderBook

FORMAT_VERSION = 1
COUNTERS = ("next_order_id", "next_certificate_id", "next_request_id")


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
        if "$date" in value:
            return date.fromisoformat(value["$date"])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def book_to_json(book: OrderBook, clock_offset_seconds: float) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "ca": book.ca.to_json(),
        "clock_offset_seconds": clock_offset_seconds,
        "balance_orders": book.balance_orders,
        "counters": {name: getattr(book, name) for name in COUNTERS},
        "organizations": [
            _encode(dataclasses.asdict(org)) for org in book.organizations.values()
        ],
        "orders": [_encode(dataclasses.asdict(o)) for o in book.orders.values()],
        "certificates": [
            _encode(dataclasses.asdict(c)) for c in book.certificates.values()
        ],
    }


def book_from_json(data: dict[str, Any]) -> tuple[OrderBook, float]:
    organizations = tuple(
        Organization(
            org["id"],
            org["name"],
            tuple(Validation(**v) for v in org["validations"]),
        )
        for org in _decode(data["organizations"])
    )
    book = OrderBook(
        CertificateAuthority.from_json(data["ca"]),
        organizations,
        data["balance_orders"],
    )
    for name in COUNTERS:
        setattr(book, name, data["counters"][name])
    for raw in _decode(data["orders"]):
        raw["status_changes"] = [tuple(change) for change in raw["status_changes"]]
        order = Order(**raw)
        book.orders[order.id] = order
    for raw in _decode(data["certificates"]):
        record = IssuedCertificate(**raw)
        book.certificates[record.id] = record
    return book, float(data["clock_offset_seconds"])


def save(path: Path, data: dict[str, Any]) -> None:
    """Write to a temporary file beside it, then rename over: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SandboxConfigError(
            f"sandbox state file {path}: cannot be read as JSON ({error})"
        ) from error
    if data.get("format") != FORMAT_VERSION:
        raise SandboxConfigError(
            f"sandbox state file {path}: format must be {FORMAT_VERSION}; "
            f"{data.get('format')!r} found"
        )
    return data
