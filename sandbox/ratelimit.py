"""Rolling rate limits per API key (API.md, Rate limits).

A sliding log of accepted requests per key and window: over either window,
every request is refused until enough old ones leave it. Refused requests are
not logged, so a client that backs off gets through again.
"""

from __future__ import annotations

from collections import deque

from sandbox.config import RateLimit


class RateLimiter:
    def __init__(self, limits: tuple[RateLimit, ...], time_scale: float) -> None:
        self._windows = [
            (limit.requests, limit.window_seconds / time_scale) for limit in limits
        ]
        self._accepted: dict[str, list[deque[float]]] = {}

    def allow(self, api_key: str, now_seconds: float) -> bool:
        """Record and allow the request, or refuse it; ``now`` is monotonic."""
        logs = self._accepted.setdefault(api_key, [deque() for _ in self._windows])
        for (_, window_seconds), log in zip(self._windows, logs, strict=True):
            while log and log[0] <= now_seconds - window_seconds:
                log.popleft()
        if any(
            len(log) >= requests
            for (requests, _), log in zip(self._windows, logs, strict=True)
        ):
            return False
        for log in logs:
            log.append(now_seconds)
        return True
