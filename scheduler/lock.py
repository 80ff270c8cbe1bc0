"""The scheduler's leader lock: one active scheduler, the others on standby.

The lock is one Redis key holding the name of its holder, set with a lease
(``SET NX PX``). The leader renews the lease every third of it; a standby tries
to take the key whenever it may have expired. Renewing and releasing compare
the holder first, in one Lua step, so a scheduler that lost the lock (paused
past its lease, cut off from Redis) can never extend or delete the lock of the
scheduler that took over.

A leader that dies stops renewing; its key expires at most one lease after the
last renewal, and the standby, which sleeps no longer than the key's remaining
time, takes over at once (issue 4: "takes over within one lease").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis
import structlog

log = structlog.get_logger(__name__)

DEFAULT_NAME = "certrenew:scheduler:leader"

# A standby wakes this long after the key's expiry, so its try finds it gone.
EXPIRY_MARGIN_SECONDS = 0.02

# KEYS[1] the lock; ARGV[1] the holder, ARGV[2] the lease in milliseconds.
ACQUIRE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""

RENEW_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaderLock:
    """A lease on one Redis key, held by the name of one process."""

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        name: str = DEFAULT_NAME,
        holder: str,
        lease_seconds: float,
    ) -> None:
        if not holder:
            raise ValueError("leader lock: holder must be a non-empty name")
        if lease_seconds < 0.01:
            raise ValueError(
                f"leader lock: lease_seconds must be at least 0.01, got "
                f"{lease_seconds!r}"
            )
        self._redis = redis_client
        self.name = name
        self.holder = holder
        self.lease_seconds = lease_seconds
        self._lease_ms = str(round(lease_seconds * 1000))
        self._acquire = redis_client.register_script(ACQUIRE_SCRIPT)
        self._renew = redis_client.register_script(RENEW_SCRIPT)
        self._release = redis_client.register_script(RELEASE_SCRIPT)

    def acquire(self) -> bool:
        """Take the lock if it is free (or already ours, extending the lease)."""
        return bool(self._acquire(keys=[self.name], args=[self.holder, self._lease_ms]))

    def renew(self) -> bool:
        """Extend the lease, only if we still hold the lock."""
        return bool(self._renew(keys=[self.name], args=[self.holder, self._lease_ms]))

    def release(self) -> bool:
        """Give the lock up, only if we still hold it."""
        return bool(self._release(keys=[self.name], args=[self.holder]))

    def holder_now(self) -> str | None:
        value = self._redis.get(self.name)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def remaining_seconds(self) -> float | None:
        """Time left on the current lease, or None when nobody holds the lock."""
        remaining_ms = int(self._redis.pttl(self.name))
        return None if remaining_ms < 0 else remaining_ms / 1000


class LeaderElection:
    """Keeps trying to lead, and tells the scheduler when it leads or stops.

    A thread renews the lease every ``interval_seconds`` (a third of the lease
    by default) while leading, and tries to take the lock while on standby.
    ``on_elected`` and ``on_demoted`` run on that thread; an ``on_elected``
    that raises gives the lock back, so a scheduler that could not start does
    not keep the others out. ``stop()`` releases the lock and, if it was
    leading, calls ``on_demoted`` last.

    When Redis cannot be reached the leader keeps leading only while its lease
    surely runs: once the next renewal could come after the lease has expired
    (and a standby may have taken over), it steps down.
    """

    def __init__(
        self,
        lock: LeaderLock,
        *,
        on_elected: Callable[[], None] | None = None,
        on_demoted: Callable[[], None] | None = None,
        interval_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = lock
        self.interval_seconds = (
            lock.lease_seconds / 3 if interval_seconds is None else interval_seconds
        )
        self._on_elected = on_elected
        self._on_demoted = on_demoted
        self._clock = clock
        self._state_lock = threading.Lock()
        self._leading = False
        self._elected = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._confirmed_at = 0.0

    @property
    def is_leader(self) -> bool:
        with self._state_lock:
            return self._leading

    def wait_for_leadership(self, timeout_seconds: float | None = None) -> bool:
        """Block until this instance leads; False if the timeout passed first."""
        return self._elected.wait(timeout_seconds)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("leader election: already started")
        self._thread = threading.Thread(
            target=self._run, name=f"leader-election-{self.lock.holder}", daemon=True
        )
        self._thread.start()

    def stop(self, *, timeout_seconds: float = 10.0) -> None:
        """Stop the thread, release the lock, and step down if leading."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_seconds)
        if self.is_leader:
            try:
                self.lock.release()
            except redis.RedisError as error:
                log.warning("leader_release_failed", error=str(error))
            self._step_down(reason="stopped")

    def step(self) -> float:
        """One round of the election; returns the seconds until the next one."""
        if self.is_leader:
            return self._keep_leading()
        return self._try_to_lead()

    def _run(self) -> None:
        delay_seconds = 0.0
        while not self._stopping.wait(delay_seconds):
            try:
                delay_seconds = self.step()
            except Exception:
                # The thread must outlive any surprise, or leadership freezes.
                log.exception("leader_election_failed", holder=self.lock.holder)
                delay_seconds = self.interval_seconds

    def _keep_leading(self) -> float:
        try:
            still_ours = self.lock.renew()
        except redis.RedisError as error:
            unconfirmed = self._clock() - self._confirmed_at
            if unconfirmed + self.interval_seconds >= self.lock.lease_seconds:
                log.warning("leader_lease_unconfirmed", error=str(error))
                self._step_down(reason="redis_unreachable")
            return self.interval_seconds
        if still_ours:
            self._confirmed_at = self._clock()
        else:
            self._step_down(reason="lock_lost")
        return self.interval_seconds

    def _try_to_lead(self) -> float:
        try:
            taken = self.lock.acquire()
            remaining = None if taken else self.lock.remaining_seconds()
        except redis.RedisError as error:
            log.warning("leader_lock_unreachable", error=str(error))
            return self.interval_seconds
        if taken:
            self._confirmed_at = self._clock()
            self._take_lead()
            return self.interval_seconds
        until_expiry = (remaining or 0.0) + EXPIRY_MARGIN_SECONDS
        return min(self.interval_seconds, until_expiry)

    def _take_lead(self) -> None:
        with self._state_lock:
            self._leading = True
        log.info("leader_elected", holder=self.lock.holder, lock=self.lock.name)
        if self._on_elected is None:
            self._elected.set()
            return
        try:
            self._on_elected()
        except Exception:
            log.exception("leader_start_failed", holder=self.lock.holder)
            with self._state_lock:
                self._leading = False
            try:
                self.lock.release()
            except redis.RedisError as error:
                log.warning("leader_release_failed", error=str(error))
            return
        self._elected.set()

    def _step_down(self, *, reason: str) -> None:
        with self._state_lock:
            was_leading = self._leading
            self._leading = False
        self._elected.clear()
        if not was_leading:
            return
        log.info("leader_demoted", holder=self.lock.holder, reason=reason)
        if self._on_demoted is not None:
            try:
                self._on_demoted()
            except Exception:
                log.exception("leader_stop_failed", holder=self.lock.holder)
