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
its messages come back. A thread keeps extending it while the step runs.
"""

from __future__ import annotations

import secrets
import threading
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
        self._holder = redis_client.register_script(HOLDER_SCRIPT)

    @contextmanager
    def held(self, thumbprint: str) -> Iterator[None]:
        """Hold the renewal's lock for the block, or raise RenewalBusy."""
        key = KEY_PREFIX + thumbprint
        token = secrets.token_hex(8)
        lease_ms = max(1, round(self.lease_seconds * 1000))
        if not self._redis.set(key, token, nx=True, px=lease_ms):
            raise RenewalBusy(
                f"renewal {thumbprint} is being worked on by another worker; "
                f"trying again in {self.lease_seconds:g} s",
                retry_after_seconds=self.lease_seconds,
            )
        done = threading.Event()
        keeper = threading.Thread(
            target=self._keep, args=(key, token, lease_ms, done), daemon=True
        )
        keeper.start()
        try:
            yield
        finally:
            done.set()
            keeper.join()
            try:
                self._holder(keys=[key], args=[token])
            except redis.RedisError as error:
                # The lease runs out by itself.
                log.warning("renewal_lock_release_failed", error=str(error))

    def _keep(self, key: str, token: str, lease_ms: int, done: threading.Event) -> None:
        while not done.wait(lease_ms / 3000):
            try:
                self._holder(keys=[key], args=[token, lease_ms])
            except redis.RedisError as error:
                log.warning("renewal_lock_extend_failed", error=str(error))
