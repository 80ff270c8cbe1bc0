"""How a sandbox is set up: keys, limits, organizations, faults, CA files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

DEFAULT_ACCOUNT = "default"


@dataclass(frozen=True)
class Validation:
    """One organization validation, as `GET /organization` lists it."""

    type: str  # "ov" or "ev"
    status: str  # "active" or "pending"
    validated_until: date | None = None


@dataclass(frozen=True)
class Organization:
    id: int
    name: str
    validations: tuple[Validation, ...]


def default_organizations() -> tuple[Organization, ...]:
    """One organization with current EV validation, one whose EV is pending."""
    until = date(2027, 12, 31)
    return (
        Organization(
            112233,
            "Example Validated Inc.",
            (Validation("ov", "active", until), Validation("ev", "active", until)),
        ),
        Organization(
            445566,
            "Example Pending Ltd.",
            (Validation("ov", "active", until), Validation("ev", "pending")),
        ),
    )


@dataclass(frozen=True)
class FaultSettings:
    """Faults to inject into `/services/v2` answers; all off by default.

    ``drop_after_create_rate`` is the share of order creations and reissues
    whose connection is closed after the order exists but before any answer.
    ``storm_429_requests`` answers that many next requests with 429.
    ``retry_after_seconds``, when above 0, goes with every 429 as Retry-After
    (whether DigiCert sends one is unconfirmed; clients must cope either way).
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    drop_after_create_rate: float = 0.0
    storm_429_requests: int = 0
    retry_after_seconds: float = 0.0


@dataclass(frozen=True)
class RateLimit:
    requests: int
    window_seconds: float


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox needs; ``time_scale`` divides windows and delays.

    ``key_accounts`` puts API keys in named accounts (a key not listed there is
    in the default account): renewals must come from the ordering account.
    ``pending_delay_seconds`` is how long an order that cannot issue at once
    waits before it is issued; None waits for an admin call.
    ``account_balance_orders`` is how many paid orders the balance covers
    (None: unlimited).
    """

    api_keys: tuple[str, ...] = ()
    key_accounts: Mapping[str, str] = field(default_factory=dict)
    admin: bool = False
    rate_limits: tuple[RateLimit, ...] = (RateLimit(100, 5.0), RateLimit(1000, 180.0))
    time_scale: float = 1.0
    pending_delay_seconds: float | None = None
    organizations: tuple[Organization, ...] = field(
        default_factory=default_organizations
    )
    two_intermediates: bool = False
    faults: FaultSettings = field(default_factory=FaultSettings)
    state_file: Path | None = None
    seed: int | None = None
    ca_cert_files: tuple[Path, ...] = ()
    ca_key_file: Path | None = None
    account_balance_orders: int | None = None

    def account_of(self, api_key: str) -> str | None:
        """The account a key belongs to, or None for a key the sandbox lacks."""
        if api_key in self.key_accounts:
            return self.key_accounts[api_key]
        if api_key in self.api_keys:
            return DEFAULT_ACCOUNT
        return None

    def scaled(self, seconds: float) -> float:
        return seconds / self.time_scale
