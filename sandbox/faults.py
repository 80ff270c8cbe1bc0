"""Fault injection, reproducible from a seed: latency, 5xx, 429 storms, drops."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from sandbox.config import FaultSettings
from sandbox.errors import SandboxConfigError


class Faults:
    """The current fault settings and the seeded dice that apply them."""

    def __init__(self, settings: FaultSettings, seed: int | None) -> None:
        self.settings = settings
        self._random = random.Random(seed)  # noqa: S311 - fault dice, not secrets
        self._storm_left = settings.storm_429_requests

    def update(self, changes: dict[str, Any]) -> FaultSettings:
        """Apply admin changes; unknown names and bad values are refused."""
        known = {f.name: f.type for f in dataclasses.fields(FaultSettings)}
        for name, value in changes.items():
            if name not in known:
                raise SandboxConfigError(
                    f"faults: unknown setting '{name}'; known: {', '.join(known)}"
                )
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise SandboxConfigError(
                    f"faults: '{name}' must be a number; {value!r} given"
                )
            if name.endswith("_rate") and not 0 <= value <= 1:
                raise SandboxConfigError(
                    f"faults: '{name}' must be between 0 and 1; {value!r} given"
                )
        self.settings = dataclasses.replace(self.settings, **changes)
        if "storm_429_requests" in changes:
            self._storm_left = self.settings.storm_429_requests
        return self.settings

    def latency_seconds(self) -> float:
        return self.settings.latency_ms / 1000

    def storm_hits(self) -> bool:
        if self._storm_left <= 0:
            return False
        self._storm_left -= 1
        return True

    def server_error_hits(self) -> bool:
        return self._roll(self.settings.error_rate)

    def drop_after_create_hits(self) -> bool:
        return self._roll(self.settings.drop_after_create_rate)

    def to_json(self) -> dict[str, Any]:
        current = dataclasses.asdict(self.settings)
        current["storm_429_requests"] = self._storm_left
        return current

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate
