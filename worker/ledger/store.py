"""Ledger: the renewal records in Redis and their forward-only transitions."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Required, TypedDict, Unpack

import redis
import structlog

from worker.ledger.queries import LedgerReader
from worker.ledger.records import (
    DEFAULT_INSTALLED_RETENTION,
    IN_FLIGHT_STATES,
    PRUNE_BATCH,
    PRUNE_INTERVAL,
    Claim,
    CountedAttempt,
    RenewalRecord,
    RenewalState,
    as_text,
    check_thumbprint,
    field_pairs,
    iso_utc,
    record_from_hash,
)
from worker.ledger.requests import claim_request, conflict, transition_request
from worker.ledger.scripts import FORGET_SCRIPT, TRANSITION_SCRIPT

log = structlog.get_logger(__name__)


# Queues one command on a pipeline.
_Queued = Callable[[redis.client.Pipeline], object]


class _Changes(TypedDict, total=False):
    """What one transition asks of the script; ``transition_request`` reads it."""

    to: Required[RenewalState | None]
    allowed: Required[Sequence[str]]
    now: Required[datetime]
    fields: Mapping[str, str] | None
    guard: Mapping[str, str] | None
    guard_same: Mapping[str, str] | None
    incr: Mapping[str, int] | None
    delete: Sequence[str]
    archive_alternative_id: bool
    remember_state_in: str
    drop_order: bool
    index_order: int | None
    submitted_at: datetime | None
    install_after: datetime | None


class Ledger(LedgerReader):
    """The renewal records of every process, kept in one Redis: the reads of
    ``LedgerReader``, and the transitions, each one Lua script."""

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        prefix: str = "certrenew",
        installed_retention: timedelta = DEFAULT_INSTALLED_RETENTION,
    ) -> None:
        if installed_retention <= timedelta(0):
            raise ValueError(
                f"ledger: installed_retention must be positive, got "
                f"{installed_retention}"
            )
        super().__init__(redis_client, prefix=prefix)
        self.installed_retention = installed_retention
        self._pruned_at: datetime | None = None
        self._transition = redis_client.register_script(TRANSITION_SCRIPT)
        self._forget = redis_client.register_script(FORGET_SCRIPT)

    # Transitions

    def claim(
        self,
        thumbprint: str,
        *,
        name: str,
        source: str,
        due_at: datetime,
        now: datetime,
    ) -> bool:
        """Open the renewal; True only for the first claimer.

        Any existing record blocks a claim, a failed one included: putting a
        failed renewal back in the queue is an operator's decision (requeue).
        """
        return bool(self.claim_many([Claim(thumbprint, name, source, due_at)], now=now))

    def claim_many(self, claims: Sequence[Claim], *, now: datetime) -> list[Claim]:
        """Open many renewals in one round trip; the claims that were first.

        Each claim is the same transition as ``claim``, checked on its own by
        the script; pipelining only saves the round trip per renewal, which
        is most of a claim's cost (bench/queueing.py).
        """
        for claim in claims:
            check_thumbprint(claim.thumbprint)
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self.began_key, iso_utc(now), nx=True)
        for claim in claims:
            self._transition(
                keys=self._keys(claim.thumbprint),
                args=[claim_request(claim, now)],
                client=pipe,
            )
        answers = pipe.execute()[1:]

        claimed = []
        for claim, answer in zip(claims, answers, strict=True):
            if as_text(answer[0]) == "ok":
                claimed.append(claim)
                log.info(
                    "renewal_claimed", thumbprint=claim.thumbprint, name=claim.name
                )
        return claimed

    def record_key_stored(
        self, thumbprint: str, *, key_location: str, now: datetime
    ) -> RenewalRecord:
        """The pending key is stored durably (before any CSR leaves us)."""
        return self._move(
            thumbprint,
            transition="record_key_stored",
            to=RenewalState.KEY_STORED,
            allowed=[RenewalState.CLAIMED, RenewalState.KEY_STORED],
            now=now,
            fields={"key_location": key_location, "key_stored_at": iso_utc(now)},
        )

    def record_intent(
        self,
        thumbprint: str,
        *,
        action: str,
        alternative_order_id: str,
        now: datetime,
    ) -> RenewalRecord:
        """What is about to be posted, recorded before the post.

        Once recorded, the alternative id of this generation cannot change:
        a retry must look the order up under the id the first post carried.
        """
        return self._move(
            thumbprint,
            transition="record_intent",
            to=RenewalState.SUBMITTING,
            allowed=[RenewalState.KEY_STORED, RenewalState.SUBMITTING],
            now=now,
            fields={
                "action": action,
                "alternative_order_id": alternative_order_id,
                "intent_at": iso_utc(now),
            },
            guard={"alternative_order_id": alternative_order_id},
        )

    def record_submitted(
        self,
        thumbprint: str,
        *,
        order_id: int,
        request_ids: Sequence[int],
        order_status: str,
        certificate_id: int | None,
        now: datetime,
    ) -> RenewalRecord:
        """DigiCert answered the post (or the order was found and adopted).

        A record bound to an order never takes another one: that would be the
        second order this ledger exists to prevent.
        """
        changes = self._submitted_changes(
            order_id=order_id,
            request_ids=request_ids,
            order_status=order_status,
            certificate_id=certificate_id,
            now=now,
        )
        return self._move(thumbprint, transition="record_submitted", **changes)

    @staticmethod
    def _submitted_changes(
        *,
        order_id: int,
        request_ids: Sequence[int],
        order_status: str,
        certificate_id: int | None,
        now: datetime,
    ) -> _Changes:
        fields = {
            "order_id": str(order_id),
            "request_ids": json.dumps([int(each) for each in request_ids]),
            "order_status": order_status,
            "submitted_at": iso_utc(now),
        }
        if certificate_id is not None:
            fields["certificate_id"] = str(certificate_id)
        return _Changes(
            to=RenewalState.SUBMITTED,
            allowed=[RenewalState.SUBMITTING, RenewalState.SUBMITTED],
            now=now,
            fields=fields,
            guard={"order_id": str(order_id)},
            index_order=order_id,
            submitted_at=now,
        )

    def record_issued_at_once(
        self,
        thumbprint: str,
        *,
        order_id: int,
        request_ids: Sequence[int],
        certificate_id: int,
        now: datetime,
    ) -> RenewalRecord:
        """DigiCert issued with its answer: ``record_submitted`` then
        ``record_issued``, in one round trip.

        Each is its own transition, checked on its own by the script; the
        second also requires the order the first recorded, so it can never
        mark issued a record bound to another order when the first is refused.
        """
        submitted = self._submitted_changes(
            order_id=order_id,
            request_ids=request_ids,
            order_status="issued",
            certificate_id=certificate_id,
            now=now,
        )
        issued = self._issued_changes(certificate_id=certificate_id, now=now)
        issued["guard"] = {"order_id": str(order_id)}
        submitted_answer, issued_answer = self._pipelined(
            [
                self._transition_command(
                    thumbprint, transition_request(thumbprint, **submitted)
                ),
                self._transition_command(
                    thumbprint, transition_request(thumbprint, **issued)
                ),
            ]
        )

        self._moved(
            thumbprint,
            submitted_answer,
            transition="record_submitted",
            allowed=submitted["allowed"],
            fields=submitted.get("fields") or {},
        )
        return self._moved(
            thumbprint,
            issued_answer,
            transition="record_issued",
            allowed=issued["allowed"],
            fields=issued.get("fields") or {},
        )

    def record_order_status(
        self, thumbprint: str, *, order_status: str, now: datetime
    ) -> RenewalRecord:
        """A new status of the submitted order (from the status sync)."""
        return self._move(
            thumbprint,
            transition="record_order_status",
            to=None,
            allowed=[RenewalState.SUBMITTED, RenewalState.ISSUED],
            now=now,
            fields={"order_status": order_status},
        )

    def record_issued(
        self, thumbprint: str, *, certificate_id: int, now: datetime
    ) -> RenewalRecord:
        """DigiCert issued the certificate; collection can start."""
        changes = self._issued_changes(certificate_id=certificate_id, now=now)
        return self._move(thumbprint, transition="record_issued", **changes)

    @staticmethod
    def _issued_changes(*, certificate_id: int, now: datetime) -> _Changes:
        return _Changes(
            to=RenewalState.ISSUED,
            allowed=[RenewalState.SUBMITTED, RenewalState.ISSUED],
            now=now,
            fields={"certificate_id": str(certificate_id), "issued_at": iso_utc(now)},
            guard_same={"certificate_id": str(certificate_id)},
        )

    def record_install_deferred(
        self, thumbprint: str, *, until: datetime, now: datetime
    ) -> RenewalRecord:
        """The issued certificate waits for its install window to open."""
        return self._move(
            thumbprint,
            transition="record_install_deferred",
            to=None,
            allowed=[RenewalState.SUBMITTED, RenewalState.ISSUED],
            now=now,
            fields={"install_after": iso_utc(until, "until")},
            install_after=until,
        )

    def record_installed(
        self,
        thumbprint: str,
        *,
        new_thumbprint: str,
        not_after: datetime,
        location: str,
        now: datetime,
    ) -> RenewalRecord:
        """The new pair is live; the renewal is done. Prunes old installs, at
        most once per ``PRUNE_INTERVAL`` of ``now`` for this ledger object."""
        check_thumbprint(new_thumbprint)
        record = self._move(
            thumbprint,
            transition="record_installed",
            to=RenewalState.INSTALLED,
            allowed=[RenewalState.ISSUED, RenewalState.INSTALLED],
            now=now,
            fields={
                "new_thumbprint": new_thumbprint,
                "new_not_after": iso_utc(not_after, "not_after"),
                "installed_location": location,
                "installed_at": iso_utc(now),
            },
            guard_same={"new_thumbprint": new_thumbprint},
        )
        if self._pruned_at is None or not (
            self._pruned_at <= now < self._pruned_at + PRUNE_INTERVAL
        ):
            # A full batch may have left more behind: look again next time.
            full = self.prune(now=now) >= PRUNE_BATCH
            self._pruned_at = None if full else now
        return record

    def record_failed(
        self, thumbprint: str, *, code: str, message: str, now: datetime
    ) -> RenewalRecord:
        """The renewal failed for good; it waits for an operator.

        An installed renewal cannot fail any more: a late error must not hide
        a certificate that is in place.
        """
        return self._move(
            thumbprint,
            transition="record_failed",
            to=RenewalState.FAILED,
            allowed=[*IN_FLIGHT_STATES, RenewalState.FAILED],
            now=now,
            fields={
                "failure_code": code,
                "failure_message": message,
                "failed_at": iso_utc(now),
            },
            remember_state_in="failed_state",
        )

    def record_attempt(self, thumbprint: str, *, now: datetime) -> int:
        """Count one more try at the current step; returns the count."""
        return self.count_attempt(thumbprint, now=now).record.attempts

    def count_attempt(self, thumbprint: str, *, now: datetime) -> CountedAttempt:
        """Count one more try, and read when the ledger began: one round trip.

        A step starts with this, and works from the record it returns rather
        than reading it again.
        """
        request = transition_request(
            thumbprint, to=None, allowed=IN_FLIGHT_STATES, now=now, incr={"attempts": 1}
        )
        began, answer = self._pipelined(
            [
                lambda pipeline: pipeline.get(self.began_key),
                self._transition_command(thumbprint, request),
            ]
        )
        record = self._moved(
            thumbprint,
            answer,
            transition="record_attempt",
            allowed=IN_FLIGHT_STATES,
            fields={},
        )
        return CountedAttempt(
            record=record,
            ledger_began_at=None
            if began is None
            else datetime.fromisoformat(as_text(began)),
        )

    def requeue(self, thumbprint: str, *, now: datetime) -> RenewalRecord:
        """Put a failed renewal back in the queue (an operator's decision).

        The generation grows, so the next order carries a new alternative id
        (a rejected order is not adopted again); the earlier ids stay in
        ``previous_alternative_order_ids``, so an order that was created
        without an answer can still be found before ordering again. Attempts
        start again from zero.
        """
        return self._move(
            thumbprint,
            transition="requeue",
            to=RenewalState.CLAIMED,
            allowed=[RenewalState.FAILED],
            now=now,
            fields={"attempts": "0", "claimed_at": iso_utc(now)},
            incr={"generation": 1},
            delete=_REQUEUE_CLEARS,
            archive_alternative_id=True,
            drop_order=True,
        )

    def forget(self, thumbprint: str) -> bool:
        """Purge the record and its index entries; True when one existed."""
        deleted = self._forget(keys=self._keys(thumbprint), args=[thumbprint, "", ""])
        if deleted:
            log.info("renewal_forgotten", thumbprint=thumbprint)
        return bool(deleted)

    def prune(self, *, now: datetime) -> int:
        """Delete installed records older than the retention; returns how many."""
        cutoff = (now - self.installed_retention).timestamp()
        stale = self._redis.zrangebyscore(
            self.state_key(RenewalState.INSTALLED),
            "-inf",
            cutoff,
            start=0,
            num=PRUNE_BATCH,
        )
        removed = 0
        for member in stale:
            thumbprint = as_text(member)
            removed += int(
                self._forget(
                    keys=self._keys(thumbprint),
                    args=[thumbprint, RenewalState.INSTALLED.value, repr(cutoff)],
                )
            )
        return removed

    # Internals

    def _move(
        self, thumbprint: str, *, transition: str, **changes: Unpack[_Changes]
    ) -> RenewalRecord:
        request = transition_request(thumbprint, **changes)
        answer = self._transition(keys=self._keys(thumbprint), args=[request])
        return self._moved(
            thumbprint,
            answer,
            transition=transition,
            allowed=changes["allowed"],
            fields=changes.get("fields") or {},
        )

    def _transition_command(self, thumbprint: str, request: str) -> _Queued:
        """The transition script's call, for ``_pipelined``."""
        keys = self._keys(thumbprint)
        return lambda pipeline: pipeline.evalsha(
            self._transition.sha, len(keys), *keys, request
        )

    def _pipelined(self, commands: Sequence[_Queued]) -> list[Any]:
        """Send ``commands`` in one round trip; their answers in order.

        The scripts go by their SHA alone. redis-py's own way (a Script called
        on a pipeline) asks ``SCRIPT EXISTS`` first, one more round trip each
        time; here a Redis that does not know the script (restarted, flushed)
        refuses every call of it, nothing ran but plain reads, and the
        commands are sent again once it is loaded.
        """
        try:
            return self._send(commands)
        except redis.exceptions.NoScriptError:
            self._redis.script_load(TRANSITION_SCRIPT)
            return self._send(commands)

    def _send(self, commands: Sequence[_Queued]) -> list[Any]:
        pipeline = self._redis.pipeline(transaction=False)
        for queue in commands:
            queue(pipeline)
        return list(pipeline.execute())

    def _moved(
        self,
        thumbprint: str,
        answer: Any,
        *,
        transition: str,
        allowed: Sequence[str],
        fields: Mapping[str, str],
    ) -> RenewalRecord:
        """The record after a transition, from the script's answer."""
        outcome, current = as_text(answer[0]), as_text(answer[1])
        if outcome != "ok":
            raise conflict(
                thumbprint,
                transition=transition,
                current=current,
                allowed=allowed,
                field=as_text(answer[2]),
                recorded=as_text(answer[3]),
                asked=fields.get(as_text(answer[2]), ""),
            )
        record = record_from_hash(field_pairs(answer[2]))
        if current != record.state.value:
            log.info(
                "renewal_state_changed",
                thumbprint=thumbprint,
                state=record.state.value,
                previous=current or None,
            )
        return record


# What a requeue clears: the outcome of the failed generation.
_REQUEUE_CLEARS = (
    "key_location",
    "key_stored_at",
    "action",
    "alternative_order_id",
    "intent_at",
    "order_id",
    "request_ids",
    "order_status",
    "submitted_at",
    "certificate_id",
    "issued_at",
    "install_after",
    "failure_code",
    "failure_message",
    "failed_state",
    "failed_at",
)
