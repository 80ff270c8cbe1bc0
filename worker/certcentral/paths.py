"""Checking what goes into a request: the base URL, path segments, ids."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from certrenew.errors import ConfigError, PayloadError

# API.md: the client's own order id is at most 64 characters.
MAX_ALTERNATIVE_ORDER_ID_LENGTH = 64
DOWNLOAD_FORMATS = frozenset({"pem_all", "pem_noroot", "pem_nointermediate", "p7b"})


def check_base_url(base_url: str) -> None:
    """https:// everywhere; plain http:// only to a loopback host (the sandbox)."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as error:
        raise ConfigError(
            [f"certcentral.base_url: not a URL: {error} (given: {base_url!r})"]
        ) from error
    if url.scheme == "https" and url.host:
        return
    if url.scheme == "http" and is_loopback(url.host):
        return
    if url.scheme == "http":
        raise ConfigError(
            [
                "certcentral.base_url: plain http:// is allowed only to a loopback "
                f"host (the sandbox); {url.host!r} needs https:// "
                f"(given: {base_url!r})"
            ]
        )
    raise ConfigError(
        [
            "certcentral.base_url: must be an https:// URL ending in /services/v2 "
            f"(given: {base_url!r})"
        ]
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def required_alternative_order_id(payload: Mapping[str, Any]) -> str:
    value = payload.get("alternative_order_id")
    if not isinstance(value, str):
        raise PayloadError(
            [
                "order payload: alternative_order_id is required, a string: it "
                "finds the order again when an answer is lost "
                f"(given: {value!r})"
            ]
        )
    check_alternative_order_id(value, "order payload: alternative_order_id")
    return value


def check_alternative_order_id(value: str, what: str) -> None:
    if not value or len(value) > MAX_ALTERNATIVE_ORDER_ID_LENGTH:
        raise PayloadError(
            [
                f"{what}: must be 1 to {MAX_ALTERNATIVE_ORDER_ID_LENGTH} characters "
                f"(given: {value!r}, {len(value)} characters)"
            ]
        )


def path_id(value: int, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}: must be a positive integer (given: {value!r})")
    return str(value)


def path_segment(value: str, name: str) -> str:
    if not value:
        raise ValueError(f"{name}: must not be empty")
    # One path segment: a "/" or "?" in it must not change the route.
    return quote(value, safe="")


def path_format(value: str) -> str:
    if value not in DOWNLOAD_FORMATS:
        raise ValueError(
            f"download format: must be one of {', '.join(sorted(DOWNLOAD_FORMATS))} "
            f"(given: {value!r})"
        )
    return value
