"""The simulated service: state, clock, limits, faults and request counts.

HTTP-free, so the server, the admin routes and the API routes share one
object. One lock guards everything; handlers run while holding it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox import state
from sandbox.ca import CertificateAuthority
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.orders import Order, OrderBook
from sandbox.ratelimit import RateLimiter
from sandbox.validation import RenewalLookup


class SandboxService:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.faults = Faults(config.faults, config.seed)
        self.limiter = RateLimiter(config.rate_limits, config.time_scale)
        self.request_counts: Counter[tuple[str, int]] = Counter()
        self.rate_limited = 0
        self.clock_offset_seconds = 0.0
        self.book = self._load_or_create()

    def _load_or_create(self) -> OrderBook:
        if self.config.state_file is not None:
            data = state.load(self.config.state_file)
            if data is not None:
                book, self.clock_offset_seconds = state.book_from_json(data)
                return book
        return OrderBook(
            self._make_ca(),
            self.config.organizations,
            self.config.account_balance_orders,
        )

    def _make_ca(self) -> CertificateAuthority:
        if self.config.ca_cert_files and self.config.ca_key_file:
            return CertificateAuthority.load(
                self.config.ca_cert_files, self.config.ca_key_file
            )
        return CertificateAuthority.generate(
            self.now(), two_intermediates=self.config.two_intermediates
        )

    def now(self) -> datetime:
        """The sandbox's clock: real UTC time plus what admins advanced."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset_seconds)

    def advance_clock(self, seconds: float) -> None:
        self.clock_offset_seconds += seconds
        self.tick()

    def pending_delay(self) -> timedelta | None:
        delay = self.config.pending_delay_seconds
        if delay is None:
            return None
        return timedelta(seconds=self.config.scaled(delay))

    def tick(self) -> None:
        self.book.tick(self.now(), self.pending_delay())

    def allow(self, api_key: str) -> bool:
        return self.limiter.allow(api_key, time.monotonic())

    def count(self, route: str, status: int) -> None:
        self.request_counts[(route, status)] += 1
        if status == 429:
            self.rate_limited += 1

    def requests_json(self) -> dict[str, Any]:
        return {
            "requests": [
                {"route": route, "status": status, "count": count}
                for (route, status), count in sorted(self.request_counts.items())
            ],
            "total": sum(self.request_counts.values()),
            "rate_limited": self.rate_limited,
        }

    def lookup(self, account: str) -> RenewalLookup:
        return RenewalLookup(
            organization_ids=frozenset(self.book.organizations),
            has_thumbprint=lambda value: self.book.has_thumbprint(account, value),
            has_order=lambda order_id: self.book.get(account, order_id) is not None,
        )

    def order_of(self, account: str, order_id: int) -> Order | None:
        return self.book.get(account, order_id)

    def save(self) -> None:
        if self.config.state_file is not None:
            state.save(
                self.config.state_file,
                state.book_to_json(self.book, self.clock_offset_seconds),
            )
