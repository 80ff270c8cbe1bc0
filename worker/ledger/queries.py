"""Reading the ledger: its keys, the records by state, age and order, and the
figures the metrics and the status page show.

Each query costs as few round trips as the indexes allow: the state sets are
scored by the last change, ``submitted_since`` by submission and
``install_waiting`` by the opening of the install window, so a read picks
out what it needs before fetching any record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import cast

import redis

from worker.ledger.records import (
    ALL_STATES,
    IN_FLIGHT_STATES,
    InstallWait,
    PendingOrders,
    RenewalRecord,
    RenewalState,
    as_text,
    pending_orders_of,
    record_from_hash,
)


class LedgerReader:
    """The ledger's keys and its queries; ``Ledger`` adds the transitions."""

    def __init__(self, redis_client: redis.Redis, *, prefix: str = "certrenew") -> None:
        self._redis = redis_client
        self._prefix = prefix

    # Keys

    def record_key(self, thumbprint: str) -> str:
        return f"{self._prefix}:renewal:{thumbprint}"

    def state_key(self, state: RenewalState) -> str:
        return f"{self._prefix}:renewals:{state.value}"

    @property
    def orders_key(self) -> str:
        return f"{self._prefix}:orders"

    @property
    def submitted_since_key(self) -> str:
        return f"{self._prefix}:submitted_since"

    @property
    def install_waiting_key(self) -> str:
        return f"{self._prefix}:install_waiting"

    @property
    def began_key(self) -> str:
        return f"{self._prefix}:ledger:began"

    def began_at(self) -> datetime | None:
        """When this ledger made its first claim (None before any claim)."""
        value = self._redis.get(self.began_key)
        return datetime.fromisoformat(as_text(value)) if value is not None else None

    def _keys(self, thumbprint: str) -> list[str]:
        return [
            self.record_key(thumbprint),
            self.orders_key,
            *(self.state_key(state) for state in ALL_STATES),
            self.submitted_since_key,
            self.install_waiting_key,
        ]

    # Queries

    def get(self, thumbprint: str) -> RenewalRecord | None:
        raw = self._redis.hgetall(self.record_key(thumbprint))
        if not raw:
            return None
        return record_from_hash(raw)

    def by_state(
        self, state: RenewalState | str, *, limit: int | None = None
    ) -> list[RenewalRecord]:
        """The records in one state, the longest unchanged first.

        With ``limit``, only the first ``limit`` records are read.
        """
        if limit is not None and limit < 1:
            return []
        last = -1 if limit is None else limit - 1
        members = self._redis.zrange(self.state_key(RenewalState(state)), 0, last)
        return self._records([as_text(member) for member in members])

    def unchanged_since(
        self,
        state: RenewalState | str,
        before: datetime,
        *,
        skip_install_after: datetime | None = None,
    ) -> list[RenewalRecord]:
        """The records in one state last changed before ``before``, longest first.

        The state's set is scored by the time of the last change, so Redis
        picks them out: a look for stalled renewals reads only those, however
        many fresh ones wait beside them. With ``skip_install_after``, those
        whose install window opens after it are left out unread as well.
        """
        pipeline = self._redis.pipeline(transaction=False)
        pipeline.zrangebyscore(
            self.state_key(RenewalState(state)), "-inf", f"({before.timestamp()!r}"
        )
        if skip_install_after is not None:
            pipeline.zrangebyscore(
                self.install_waiting_key, f"({skip_install_after.timestamp()!r}", "+inf"
            )
        members, *waiting = pipeline.execute()
        skipped = {as_text(member) for member in waiting[0]} if waiting else set()
        return self._records(
            [as_text(member) for member in members if as_text(member) not in skipped]
        )

    def in_flight(self, *, limit: int | None = None) -> list[RenewalRecord]:
        """Every renewal neither installed nor failed, the longest unchanged first.

        With ``limit``, only the first ``limit`` records are read: each state's
        set is scored by the time of the last change, so the oldest members
        of every state are merged before any record is fetched. A status page
        over a run of 100,000 claims reads the rows it shows, not the run.
        """
        if limit is not None and limit < 1:
            return []
        last = -1 if limit is None else limit - 1
        pipeline = self._redis.pipeline(transaction=False)
        for state in IN_FLIGHT_STATES:
            pipeline.zrange(self.state_key(state), 0, last, withscores=True)
        scored = sorted(
            (score, as_text(member))
            for answer in pipeline.execute()
            for member, score in answer
        )
        oldest = scored if limit is None else scored[:limit]
        return self._records([thumbprint for _, thumbprint in oldest])

    def failed(self, *, limit: int | None = None) -> list[RenewalRecord]:
        """The failed renewals, the longest unchanged first (the first ``limit``)."""
        return self.by_state(RenewalState.FAILED, limit=limit)

    def thumbprint_for_order(self, order_id: int) -> str | None:
        value = self._redis.hget(self.orders_key, str(order_id))
        return None if value is None else as_text(value)

    def submitted_orders(self) -> dict[int, str]:
        """Order id -> thumbprint of every renewal waiting in *submitted*."""
        thumbprints = [
            as_text(member)
            for member in self._redis.zrange(
                self.state_key(RenewalState.SUBMITTED), 0, -1
            )
        ]
        pipeline = self._redis.pipeline(transaction=False)
        for thumbprint in thumbprints:
            pipeline.hget(self.record_key(thumbprint), "order_id")
        order_ids = pipeline.execute()
        return {
            int(as_text(order_id)): thumbprint
            for thumbprint, order_id in zip(thumbprints, order_ids, strict=True)
            if order_id
        }

    def pending_orders(self, *, overdue_before: datetime) -> PendingOrders:
        """The renewals waiting on DigiCert (*submitted*): how many, the oldest,
        and how many were submitted before ``overdue_before``.

        Read from the submitted-since index in one round trip, however many
        orders wait: the metrics ask at every scrape. Records submitted before
        the index existed are not in it; while any remain, the counts differ
        and the records themselves are read.
        """
        pipeline = self._redis.pipeline(transaction=True)
        pipeline.zcard(self.state_key(RenewalState.SUBMITTED))
        pipeline.zcard(self.submitted_since_key)
        pipeline.zrange(self.submitted_since_key, 0, 0, withscores=True)
        pipeline.zcount(
            self.submitted_since_key, "-inf", f"({overdue_before.timestamp()!r}"
        )
        waiting, indexed, oldest, overdue = pipeline.execute()
        if waiting != indexed:
            return pending_orders_of(
                self.by_state(RenewalState.SUBMITTED), overdue_before=overdue_before
            )
        return PendingOrders(
            oldest_submitted_at=None
            if not oldest
            else datetime.fromtimestamp(oldest[0][1], UTC),
            overdue=int(overdue),
        )

    def waiting_for_install_window(self, now: datetime) -> list[InstallWait]:
        """The renewals whose install window opens after ``now``, soonest first.

        Read from the install-waiting index and two fields of each record: the
        metrics tell which certificates wait, so that an alert about a due
        certificate can leave them out.
        """
        scored = cast(
            "list[tuple[bytes, float]]",
            self._redis.zrangebyscore(
                self.install_waiting_key,
                f"({now.timestamp()!r}",
                "+inf",
                withscores=True,
            ),
        )
        pipeline = self._redis.pipeline(transaction=False)
        for member, _ in scored:
            pipeline.hmget(self.record_key(as_text(member)), "name", "source")
        return [
            InstallWait(
                name=as_text(name),
                source=as_text(source),
                opens_at=datetime.fromtimestamp(score, UTC),
            )
            for (_, score), (name, source) in zip(
                scored, pipeline.execute(), strict=True
            )
            # A record purged between the two reads.
            if name is not None
        ]

    def counts(self) -> dict[str, int]:
        """How many renewals are in each state (one ZCARD each)."""
        pipeline = self._redis.pipeline(transaction=False)
        for state in ALL_STATES:
            pipeline.zcard(self.state_key(state))
        sizes = pipeline.execute()
        return {
            state.value: int(size)
            for state, size in zip(ALL_STATES, sizes, strict=True)
        }

    # Internals

    def _records(self, thumbprints: Iterable[str]) -> list[RenewalRecord]:
        pipeline = self._redis.pipeline(transaction=False)
        for thumbprint in thumbprints:
            pipeline.hgetall(self.record_key(thumbprint))
        # A member whose record was purged between the two reads is skipped.
        return [record_from_hash(raw) for raw in pipeline.execute() if raw]
