"""One payload's problems, each a finished message naming field, rule and value."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from certrenew.errors import PayloadError

# RFC 1035 section 2.3.1 labels (letters, digits, inner hyphens, 1-63 octets).
# No underscores: CA/B Forum ballot SC12 ended them in public TLS names.
DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
DNS_NAME_MAX_LENGTH = 253
# "dd MMM YYYY", e.g. "09 JUN 2021" (order_validity / cert_validity).
DAY_MONTH_YEAR = re.compile(r"^(\d{2}) ([A-Za-z]{3}) (\d{4})$")
MONTHS = (
    "JAN",
    "FEB",
    "MAR",
    "APR",
    "MAY",
    "JUN",
    "JUL",
    "AUG",
    "SEP",
    "OCT",
    "NOV",
    "DEC",
)
SHOWN_VALUE_MAX_LENGTH = 80


def shown(value: Any) -> str:
    """The value as a message quotes it: its repr, cut short when long."""
    text = repr(value)
    if len(text) <= SHOWN_VALUE_MAX_LENGTH:
        return text
    return f"{text[:SHOWN_VALUE_MAX_LENGTH]}... ({len(text)} characters)"


class Problems:
    """Collects every problem of one payload, each as a finished message."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def raise_if_any(self) -> None:
        if self.messages:
            raise PayloadError(list(self.messages))

    def invalid(self, field: str, rule: str, value: Any) -> None:
        self.add(f"invalid_value:{field}: {rule} (given: {shown(value)})")

    def missing(self, field: str, rule: str = "required") -> None:
        self.add(f"{field}: {rule} (given: nothing)")

    def object_at(
        self,
        parent_value: Mapping[str, Any],
        name: str,
        parent: str = "",
        *,
        required: bool = False,
    ) -> Mapping[str, Any] | None:
        field = f"{parent}.{name}" if parent else name
        value = parent_value.get(name)
        if value is None:
            if required:
                self.missing(field)
            return None
        if not isinstance(value, Mapping):
            self.invalid(field, "must be an object", value)
            return None
        return value

    def string_at(
        self,
        parent_value: Mapping[str, Any],
        name: str,
        parent: str,
        *,
        required: bool = False,
        rule: str = "required",
    ) -> str | None:
        field = f"{parent}.{name}" if parent else name
        value = parent_value.get(name)
        if value is None:
            if required:
                self.missing(field, rule)
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            self.invalid(field, "must be a non-empty string", value)
            return None
        return value

    def integer_at(
        self,
        parent_value: Mapping[str, Any],
        name: str,
        parent: str,
        *,
        required: bool = False,
    ) -> int | None:
        field = f"{parent}.{name}"
        value = parent_value.get(name)
        if value is None:
            if required:
                self.missing(field)
            return None
        return self.integer_in(field, value, None, None)

    def integer_in(
        self, field: str, value: Any, low: int | None, high: int | None
    ) -> int | None:
        if low is not None and high is not None:
            rule = f"must be an integer from {low} to {high}"
        elif low is not None:
            rule = f"must be an integer of at least {low}"
        else:
            rule = "must be an integer"
        # bool is an int in Python but not in JSON.
        in_range = (
            isinstance(value, int)
            and not isinstance(value, bool)
            and (low is None or value >= low)
            and (high is None or value <= high)
        )
        if not in_range:
            self.invalid(field, rule, value)
            return None
        return int(value)

    def flag(self, payload: Mapping[str, Any], name: str) -> None:
        if name in payload and not isinstance(payload[name], bool):
            self.invalid(name, "must be true or false", payload[name])

    def dns_name(self, field: str, value: Any) -> None:
        if not _is_dns_name(value):
            self.invalid(
                field,
                "must be a DNS name (letters, digits, inner hyphens, at least two "
                "labels; '*.' allowed as the first label)",
                value,
            )

    def custom_date(
        self, field: str, value: Any, today: date, latest: date, span: str
    ) -> date | None:
        parsed = _day_month_year(value)
        if parsed is None:
            self.invalid(
                field, "must be a date as dd MMM YYYY, e.g. 09 JUN 2026", value
            )
            return None
        if not today < parsed <= latest:
            self.invalid(
                field, f"must be after {today} and within {span} (by {latest})", value
            )
            return None
        return parsed


def _day_month_year(value: Any) -> date | None:
    match = DAY_MONTH_YEAR.match(value) if isinstance(value, str) else None
    if match is None or match[2].upper() not in MONTHS:
        return None
    try:
        return date(int(match[3]), MONTHS.index(match[2].upper()) + 1, int(match[1]))
    except ValueError:
        return None


def _is_dns_name(value: Any) -> bool:
    if not isinstance(value, str) or not 0 < len(value) <= DNS_NAME_MAX_LENGTH:
        return False
    labels = value.split(".")
    if labels[0] == "*":
        labels = labels[1:]
    if len(labels) < 2 or labels[-1].isdigit():
        return False
    return all(DNS_LABEL.match(label) for label in labels)
