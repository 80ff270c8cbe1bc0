"""One worker at a time per renewal: a lease in Redis around every step.

Dramatiq delivers at least once. A worker killed after it sent a message's
retry but before it acknowledged the message leaves two copies, and both can
run at the same moment on two workers. The ledger stops a copy that comes
*after* the order, but two copies that both look up the alternative id before
either posts both find nothing and both post: DigiCert takes one order and
refuses the other (``order_already_renewed``), and the refused copy failed a
renewal whose order exists (the chaos test found it).

So a step holds ``certrenew:renewal-lock:{thumbprint}`` while it runs. A copy
that finds it held is retried once the lease could have run out. The lease is
``[worker] redelivery_after_seconds``: a killed worker's lock lapses about when
its messages come back. While steps run, one thread per process (started
with the first lock, gone once none has been held for a third of a lease)
extends every lock the process holds, in one round trip.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
import structlog

from certrenew.errors import TransientError

log = structlog.get_logger(__name__)

KEY_PREFIX = "certrenew:renewal-lock:"

# KEYS[1] the lock; ARGV[1] the holder's token; ARGV[2] the lease (ms), or
# nothing to release. Acts only while the caller still holds the lock.
HOLDER_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('DEL', KEYS[1])
"""


class RenewalBusy(TransientError):
    """Another worker is working on this renewal now; try again later."""


class RenewalLock:
    def __init__(self, redis_client: redis.Redis, *, lease_seconds: float) -> None:
        self._redis = redis_client
        self.lease_seconds = lease_seconds
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._holder = redis_client.register_script(HOLDER_SCRIPT)
        # Lock key -> token of every lock this object holds now, and the one
        # thread that extends them (None while none runs).
        self._held: dict[str, str] = {}
        self._keeper: threading.Thread | None = None
        self._held_lock = threading.Lock()

    @contextmanager
    def held(self, thumbprint: str) -> Iterator[None]:
        """Hold the renewal's lock for the block, or raise RenewalBusy."""
        key = KEY_PREFIX + thumbprint
        token = secrets.token_hex(8)
        if not self._redis.set(key, token, nx=True, px=self._lease_ms):
            raise RenewalBusy(
                f"renewal {thumbprint} is being worked on by another worker; "
                f"trying again in {self.lease_seconds:g} s",
                retry_after_seconds=self.lease_seconds,
            )
        self._keep_extending(key, token)
        try:
            yield
        finally:
            with self._held_lock:
                del self._held[key]
            try:
                self._holder(keys=[key], args=[token])
            except redis.RedisError as error:
                # The lease runs out by itself.
                log.warning("renewal_lock_release_failed", error=str(error))

    def _keep_extending(self, key: str, token: str) -> None:
        with self._held_lock:
            self._held[key] = token
            if self._keeper is None:
                self._keeper = threading.Thread(
                    target=self._keep, name="renewal-lock-keeper", daemon=True
                )
                self._keeper.start()

    def _keep(self) -> None:
        """Every third of a lease, extend every lock still held."""
        while True:
            time.sleep(self._lease_ms / 3000)
            with self._held_lock:
                held = dict(self._held)
                if not held:
                    self._keeper = None
                    return
            # A lock released meanwhile is left alone: the script checks the
            # token, and a released key holds none (or another holder's).
            pipeline = self._redis.pipeline(transaction=False)
            for key, token in held.items():
                self._holder(keys=[key], args=[token, self._lease_ms], client=pipeline)
            try:
                pipeline.execute()
            except redis.RedisError as error:
                log.warning("renewal_lock_extend_failed", error=str(error))
