"""The rejected-key breaker: one 403 stops every worker's API calls for a while.

When DigiCert refuses the API key (403 ``access_denied|...``, API.md "Errors"),
every further call would be refused too, and every message would burn its
retries against it. The first worker to see the refusal trips the breaker in
Redis; from then on no worker calls the API, except one *probe* per pause
interval: the worker that wins a ``SET NX`` token makes the next call. If the
probe succeeds it clears the breaker and work resumes by itself; if it is
refused again it trips the breaker for another pause (issue 5).

Redis keys: ``{key}`` (a hash: code, message, since, retry_at, pause_seconds)
and ``{key}:probe`` (the probe token, living one pause, so a prober that dies
before reporting does not block the next probe for longer than that).

The breaker changes rarely and every API call asks it twice (before the call,
and after it to lift a rejection), so a process may trust a look that found no
rejection for ``known_clear_seconds`` (the worker's runtime: one second)
instead of asking Redis again. That is the staleness bound: a rejection
tripped by another process stops this one's calls at most that much later (a
call that goes meanwhile is refused too and trips the breaker again), and a
success in that time does not lift a rejection tripped elsewhere; the next
probe does, one pause later. A rejection tripped or lifted by this process
counts at once.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
import structlog

log = structlog.get_logger(__name__)

DEFAULT_KEY = "certrenew:api:key-rejected"

# KEYS[1] the breaker, KEYS[2] the probe token; ARGV[1] now (Unix seconds).
# Returns 2 when there is no breaker, 1 when the caller is the one probe, 0
# when it must wait.
NO_REJECTION = 2
MAY_CALL_SCRIPT = """
local retry_at = redis.call('HGET', KEYS[1], 'retry_at_score')
if not retry_at then return 2 end
if tonumber(ARGV[1]) < tonumber(retry_at) then return 0 end
local pause_ms = math.max(1, math.floor(
  tonumber(redis.call('HGET', KEYS[1], 'pause_seconds')) * 1000))
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', pause_ms) then return 1 end
return 0
"""


@dataclass(frozen=True)
class Rejection:
    """Why API work is paused, since when, and when the next probe may go."""

    code: str
    message: str
    since: datetime
    retry_at: datetime
    pause_seconds: float


class KeyRejection:
    """The breaker every worker checks before calling CertCentral."""

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        key: str = DEFAULT_KEY,
        known_clear_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if known_clear_seconds < 0:
            raise ValueError(
                f"key rejection: known_clear_seconds must not be negative, got "
                f"{known_clear_seconds!r}"
            )
        self._redis = redis_client
        self.key = key
        self.probe_key = f"{key}:probe"
        self._may_call = redis_client.register_script(MAY_CALL_SCRIPT)
        self.known_clear_seconds = known_clear_seconds
        self._clock = clock
        # Until when (``clock`` time) no rejection is assumed, and how many
        # times this process tripped the breaker: a look that began before a
        # trip must not mark the breaker clear after it.
        self._clear_until = -math.inf
        self._trips = 0
        self._cache_lock = threading.Lock()

    def trip(
        self, *, code: str, message: str, pause_seconds: float, now: datetime
    ) -> Rejection:
        """Record a refusal of the key: no API calls until ``now + pause``.

        ``since`` keeps the first refusal of a run of them; a failed probe
        only moves ``retry_at`` on.
        """
        _check_utc(now)
        if not pause_seconds > 0:
            raise ValueError(
                f"key rejection: pause_seconds must be positive, got {pause_seconds!r}"
            )
        retry_at = now + timedelta(seconds=pause_seconds)
        pipeline = self._redis.pipeline(transaction=True)
        pipeline.hsetnx(self.key, "since", now.isoformat())
        pipeline.hset(
            self.key,
            mapping={
                "code": code,
                "message": message,
                "retry_at": retry_at.isoformat(),
                "retry_at_score": repr(retry_at.timestamp()),
                "pause_seconds": repr(pause_seconds),
            },
        )
        # The probe (if this was one) has reported: the next waits for retry_at.
        pipeline.delete(self.probe_key)
        pipeline.execute()
        # After the write: a look that began before it cannot mark it clear.
        with self._cache_lock:
            self._trips += 1
            self._clear_until = -math.inf
        log.warning(
            "api_key_rejected",
            code=code,
            error_message=message,
            pause_seconds=pause_seconds,
            retry_at=retry_at.isoformat(),
        )
        rejection = self.current(now)
        if rejection is None:
            raise RuntimeError(f"key rejection: {self.key} vanished while tripping")
        return rejection

    def current(self, now: datetime) -> Rejection | None:
        """The rejection in force, or None when API work may go on."""
        _check_utc(now)
        raw = self._redis.hgetall(self.key)
        if not raw:
            return None
        fields = {_text(name): _text(value) for name, value in raw.items()}
        if "retry_at" not in fields:
            return None
        return Rejection(
            code=fields.get("code", ""),
            message=fields.get("message", ""),
            since=datetime.fromisoformat(fields.get("since", fields["retry_at"])),
            retry_at=datetime.fromisoformat(fields["retry_at"]),
            pause_seconds=float(fields.get("pause_seconds", "0")),
        )

    def may_call(self, now: datetime) -> bool:
        """True when this caller may call the API now.

        Always True with no rejection in force. While one is, False until
        ``retry_at``, then True for exactly one caller per pause: the probe,
        which must report back with ``clear()`` on success or ``trip()`` on
        another refusal.
        """
        _check_utc(now)
        if self._known_clear():
            return True
        trips, looked_at = self._trips, self._clock()
        answer = int(
            self._may_call(
                keys=[self.key, self.probe_key], args=[repr(now.timestamp())]
            )
        )
        if answer == NO_REJECTION:
            self._remember_clear(trips, looked_at)
        return answer > 0

    def clear(self) -> bool:
        """A call succeeded: lift the rejection. True when one was in force.

        Redis is not asked while a recent look found no rejection (see the
        module's staleness bound).
        """
        if self._known_clear():
            return False
        trips, looked_at = self._trips, self._clock()
        removed = int(self._redis.delete(self.key, self.probe_key))
        self._remember_clear(trips, looked_at)
        if removed:
            log.info("api_key_accepted")
        return removed > 0

    def _known_clear(self) -> bool:
        return self._clock() < self._clear_until

    def _remember_clear(self, trips: int, looked_at: float) -> None:
        """No rejection was in force at ``looked_at``: trust it for a while."""
        if self.known_clear_seconds <= 0:
            return
        with self._cache_lock:
            if self._trips == trips:
                self._clear_until = looked_at + self.known_clear_seconds


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _check_utc(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"key rejection: now must be timezone-aware (UTC), got {moment!r}"
        )
