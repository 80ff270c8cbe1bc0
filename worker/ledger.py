"""The renewal ledger: one durable record per renewal, in Redis.

A renewal is keyed by the thumbprint of the certificate it replaces (DESIGN.md,
"Names"). Its record moves forward only::

    claimed -> key_stored -> submitting -> submitted -> issued -> installed
       \\___________\\_____________\\____________\\__________\\--> failed

and a failed record goes back to *claimed* only when an operator requeues it.
Scans, messages and retries read the record before acting, and every
transition is one Lua script that checks the current state and writes the new
one in the same step, so a redelivered message, a second scheduler or a late
status update can never move a renewal backwards (DESIGN.md, "Rules that hold
everywhere": at most one paid order per renewal).

Redis keys (``prefix`` defaults to ``certrenew``):

- ``{prefix}:renewal:{THUMBPRINT}``: a hash, the record itself;
- ``{prefix}:renewals:{state}``: a sorted set per state, members are
  thumbprints scored by the time of their last change (Unix seconds);
- ``{prefix}:orders``: a hash from DigiCert order id to thumbprint;
- ``{prefix}:ledger:began``: when this ledger's first claim was made. A Redis
  that lost its data starts a new ledger, and renewals claimed soon after
  that may have orders the ledger forgot (worker/renewal.py looks them up).

Installed records are kept for a retention (30 days by default) and then
pruned; failed records are kept until an operator requeues or purges them
(issue 5: a dead letter must outlive the queue).

The scripts name every key they touch in ``KEYS``; they target a single Redis
(or a fakeredis server), not Redis Cluster, whose slots would split them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Required, TypedDict, Unpack

import redis
import structlog

from certrenew.errors import CertrenewError

log = structlog.get_logger(__name__)

DEFAULT_INSTALLED_RETENTION = timedelta(days=30)

# How many expired installed records one prune removes; the rest go next time.
PRUNE_BATCH = 100

THUMBPRINT_PATTERN = re.compile(r"[0-9A-F]{40}")

# DigiCert's limit for alternative_order_id (order-secure-site-ev.txt: "Maximum
# length: 64 characters", "A custom alphanumeric ID").
ALTERNATIVE_ORDER_ID_MAX_LENGTH = 64
ALTERNATIVE_ORDER_ID_PREFIX = "certrenew"
ALTERNATIVE_ORDER_ID_PATTERN = re.compile(r"certrenew([0-9A-F]{40})g([0-9]+)")
MAX_GENERATION = 10**14 - 1


class RenewalState(StrEnum):
    CLAIMED = "claimed"
    KEY_STORED = "key_stored"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    ISSUED = "issued"
    INSTALLED = "installed"
    FAILED = "failed"


IN_FLIGHT_STATES = (
    RenewalState.CLAIMED,
    RenewalState.KEY_STORED,
    RenewalState.SUBMITTING,
    RenewalState.SUBMITTED,
    RenewalState.ISSUED,
)
ALL_STATES = (*IN_FLIGHT_STATES, RenewalState.INSTALLED, RenewalState.FAILED)

# The pseudo-state of a renewal that has no record.
ABSENT = ""


class LedgerConflict(CertrenewError):
    """A transition the record's current state does not allow.

    ``current_state`` is None when the renewal has no record at all.
    """

    def __init__(
        self,
        message: str,
        *,
        thumbprint: str,
        current_state: str | None,
        transition: str,
    ) -> None:
        self.thumbprint = thumbprint
        self.current_state = current_state
        self.transition = transition
        super().__init__(message)


@dataclass(frozen=True)
class Claim:
    """One due renewal to open, as ``Ledger.claim_many`` takes them."""

    thumbprint: str
    name: str
    source: str
    due_at: datetime


@dataclass(frozen=True)
class RenewalRecord:
    """Everything the ledger knows about one renewal."""

    thumbprint: str
    state: RenewalState
    name: str
    source: str
    due_at: datetime
    claimed_at: datetime
    updated_at: datetime
    # Starts at 1; each requeue adds one and with it changes the alternative id.
    generation: int
    attempts: int
    key_location: str | None = None
    key_stored_at: datetime | None = None
    action: str | None = None
    alternative_order_id: str | None = None
    intent_at: datetime | None = None
    order_id: int | None = None
    request_ids: tuple[int, ...] = ()
    order_status: str | None = None
    submitted_at: datetime | None = None
    certificate_id: int | None = None
    issued_at: datetime | None = None
    new_thumbprint: str | None = None
    new_not_after: datetime | None = None
    installed_location: str | None = None
    installed_at: datetime | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    # The state the renewal was in when it failed: whether an order may exist.
    failed_state: RenewalState | None = None
    failed_at: datetime | None = None
    # Alternative ids of earlier generations: orders sent under them may exist.
    previous_alternative_order_ids: tuple[str, ...] = ()

    @property
    def in_flight(self) -> bool:
        return self.state in IN_FLIGHT_STATES


def alternative_order_id(thumbprint: str, generation: int) -> str:
    """The ``alternative_order_id`` sent with the orders of one renewal.

    ``certrenew`` + the old thumbprint + ``g`` + the generation: alphanumeric
    and at most 64 characters (the endpoint page), the same on every retry of
    one generation (so an order created by a post that got no answer is found
    and adopted), and new after a requeue (so a rejected order is not adopted
    again). It is a lookup key, not a lock: DigiCert does not promise that it
    is unique (API.md, "Ordering and renewing").
    """
    _check_thumbprint(thumbprint)
    if not 1 <= generation <= MAX_GENERATION:
        raise ValueError(
            f"alternative order id: generation must be between 1 and "
            f"{MAX_GENERATION}, got {generation}"
        )
    return f"{ALTERNATIVE_ORDER_ID_PREFIX}{thumbprint}g{generation}"


def parse_alternative_order_id(value: str) -> tuple[str, int] | None:
    """The (thumbprint, generation) of one of our alternative ids, else None."""
    match = ALTERNATIVE_ORDER_ID_PATTERN.fullmatch(value)
    if match is None:
        return None
    return match.group(1), int(match.group(2))


# One script moves a record from one of the allowed states to the next.
# KEYS[1] the record, KEYS[2] the order index, KEYS[3..] one sorted set per
# state in the order of request.states. ARGV[1] is the request as JSON:
#   from: allowed current states ("" = no record); to: the new state ("" =
#   stay in the current one, for updates that are not transitions);
#   guard: fields that, when already set, must hold this value;
#   guard_same: the same, checked only when the record is already in `to`;
#   set / delete / incr: field changes; score: the time of the change;
#   archive_alternative_id: push the current alternative id to the history;
#   remember_state_in: a field that keeps the state left behind, unless the
#   record already is in `to` (failed_state: whether an order may exist);
#   drop_order: remove the record's order id from the index;
#   index_order: add this order id to the index.
# Returns {"ok", previous state, the record as a flat list} or
# {"conflict", current state, field, recorded value}.
TRANSITION_SCRIPT = """
local request = cjson.decode(ARGV[1])
local record = KEYS[1]
local orders = KEYS[2]
local by_state = {}
for i, name in ipairs(request.states) do by_state[name] = KEYS[i + 2] end

local current = redis.call('HGET', record, 'state') or ''
local allowed = false
for _, name in ipairs(request.from) do
  if name == current then allowed = true end
end
if not allowed then return {'conflict', current, '', ''} end
local target = request.to
if target == '' then target = current end

local function check(guards)
  for field, wanted in pairs(guards) do
    local recorded = redis.call('HGET', record, field)
    if recorded and recorded ~= '' and recorded ~= wanted then
      return {'conflict', current, field, recorded}
    end
  end
  return nil
end
local refused = check(request.guard)
if refused then return refused end
if current == target then
  refused = check(request.guard_same)
  if refused then return refused end
end

if request.archive_alternative_id then
  local old = redis.call('HGET', record, 'alternative_order_id')
  if old and old ~= '' then
    local history = cjson.decode(
      redis.call('HGET', record, 'previous_alternative_order_ids') or '[]')
    table.insert(history, old)
    redis.call('HSET', record, 'previous_alternative_order_ids',
      cjson.encode(history))
  end
end
if request.drop_order then
  local order_id = redis.call('HGET', record, 'order_id')
  if order_id and order_id ~= '' then redis.call('HDEL', orders, order_id) end
end
for _, field in ipairs(request.delete) do redis.call('HDEL', record, field) end
for field, value in pairs(request.set) do redis.call('HSET', record, field, value) end
for field, amount in pairs(request.incr) do
  redis.call('HINCRBY', record, field, amount)
end
if request.remember_state_in ~= '' and current ~= target then
  redis.call('HSET', record, request.remember_state_in, current)
end
redis.call('HSET', record, 'state', target)

if current ~= '' and current ~= target then
  redis.call('ZREM', by_state[current], request.thumbprint)
end
redis.call('ZADD', by_state[target], request.score, request.thumbprint)
if request.index_order ~= '' then
  redis.call('HSET', orders, request.index_order, request.thumbprint)
end
return {'ok', current, redis.call('HGETALL', record)}
"""

# Deletes a record and every index entry of it. KEYS as above; ARGV[1] the
# thumbprint, ARGV[2] the state it must be in ("" = any), ARGV[3] the latest
# change time it may have (for pruning; "" = any). Returns 1 when deleted.
FORGET_SCRIPT = """
local record = KEYS[1]
local state = redis.call('HGET', record, 'state')
if not state then
  for i = 3, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
  return 0
end
if ARGV[2] ~= '' and state ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' then
  local changed = tonumber(redis.call('HGET', record, 'updated_score') or '0')
  if changed > tonumber(ARGV[3]) then return 0 end
end
local order_id = redis.call('HGET', record, 'order_id')
if order_id and order_id ~= '' then
  if redis.call('HGET', KEYS[2], order_id) == ARGV[1] then
    redis.call('HDEL', KEYS[2], order_id)
  end
end
redis.call('DEL', record)
for i = 3, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
return 1
"""


class _Changes(TypedDict, total=False):
    """What one transition asks of the script; ``_transition_request`` reads it."""

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


class Ledger:
    """The renewal records of every process, kept in one Redis."""

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
        self._redis = redis_client
        self._prefix = prefix
        self.installed_retention = installed_retention
        self._transition = redis_client.register_script(TRANSITION_SCRIPT)
        self._forget = redis_client.register_script(FORGET_SCRIPT)

    # Keys

    def record_key(self, thumbprint: str) -> str:
        return f"{self._prefix}:renewal:{thumbprint}"

    def state_key(self, state: RenewalState) -> str:
        return f"{self._prefix}:renewals:{state.value}"

    @property
    def orders_key(self) -> str:
        return f"{self._prefix}:orders"

    @property
    def began_key(self) -> str:
        return f"{self._prefix}:ledger:began"

    def began_at(self) -> datetime | None:
        """When this ledger made its first claim (None before any claim)."""
        value = self._redis.get(self.began_key)
        return datetime.fromisoformat(_text(value)) if value is not None else None

    def _keys(self, thumbprint: str) -> list[str]:
        return [
            self.record_key(thumbprint),
            self.orders_key,
            *(self.state_key(state) for state in ALL_STATES),
        ]

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
            _check_thumbprint(claim.thumbprint)
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self.began_key, _iso(now), nx=True)
        for claim in claims:
            self._transition(
                keys=self._keys(claim.thumbprint),
                args=[_claim_request(claim, now)],
                client=pipe,
            )
        answers = pipe.execute()[1:]

        claimed = []
        for claim, answer in zip(claims, answers, strict=True):
            if _text(answer[0]) == "ok":
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
            fields={"key_location": key_location, "key_stored_at": _iso(now)},
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
                "intent_at": _iso(now),
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
        fields = {
            "order_id": str(order_id),
            "request_ids": json.dumps([int(each) for each in request_ids]),
            "order_status": order_status,
            "submitted_at": _iso(now),
        }
        if certificate_id is not None:
            fields["certificate_id"] = str(certificate_id)
        return self._move(
            thumbprint,
            transition="record_submitted",
            to=RenewalState.SUBMITTED,
            allowed=[RenewalState.SUBMITTING, RenewalState.SUBMITTED],
            now=now,
            fields=fields,
            guard={"order_id": str(order_id)},
            index_order=order_id,
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
        return self._move(
            thumbprint,
            transition="record_issued",
            to=RenewalState.ISSUED,
            allowed=[RenewalState.SUBMITTED, RenewalState.ISSUED],
            now=now,
            fields={"certificate_id": str(certificate_id), "issued_at": _iso(now)},
            guard_same={"certificate_id": str(certificate_id)},
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
        """The new pair is live; the renewal is done. Prunes old installs."""
        _check_thumbprint(new_thumbprint)
        record = self._move(
            thumbprint,
            transition="record_installed",
            to=RenewalState.INSTALLED,
            allowed=[RenewalState.ISSUED, RenewalState.INSTALLED],
            now=now,
            fields={
                "new_thumbprint": new_thumbprint,
                "new_not_after": _iso(not_after, "not_after"),
                "installed_location": location,
                "installed_at": _iso(now),
            },
            guard_same={"new_thumbprint": new_thumbprint},
        )
        self.prune(now=now)
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
                "failed_at": _iso(now),
            },
            remember_state_in="failed_state",
        )

    def record_attempt(self, thumbprint: str, *, now: datetime) -> int:
        """Count one more try at the current step; returns the count."""
        record = self._move(
            thumbprint,
            transition="record_attempt",
            to=None,
            allowed=IN_FLIGHT_STATES,
            now=now,
            incr={"attempts": 1},
        )
        return record.attempts

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
            fields={"attempts": "0", "claimed_at": _iso(now)},
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
            thumbprint = _text(member)
            removed += int(
                self._forget(
                    keys=self._keys(thumbprint),
                    args=[thumbprint, RenewalState.INSTALLED.value, repr(cutoff)],
                )
            )
        return removed

    # Queries

    def get(self, thumbprint: str) -> RenewalRecord | None:
        raw = self._redis.hgetall(self.record_key(thumbprint))
        if not raw:
            return None
        return _record_from_hash(raw)

    def by_state(self, state: RenewalState | str) -> list[RenewalRecord]:
        """The records in one state, the longest unchanged first."""
        members = self._redis.zrange(self.state_key(RenewalState(state)), 0, -1)
        return self._records([_text(member) for member in members])

    def in_flight(self) -> list[RenewalRecord]:
        """Every renewal neither installed nor failed, the longest unchanged first."""
        records = [
            record for state in IN_FLIGHT_STATES for record in self.by_state(state)
        ]
        return sorted(records, key=lambda record: record.updated_at)

    def failed(self) -> list[RenewalRecord]:
        return self.by_state(RenewalState.FAILED)

    def thumbprint_for_order(self, order_id: int) -> str | None:
        value = self._redis.hget(self.orders_key, str(order_id))
        return None if value is None else _text(value)

    def submitted_orders(self) -> dict[int, str]:
        """Order id -> thumbprint of every renewal waiting in *submitted*."""
        thumbprints = [
            _text(member)
            for member in self._redis.zrange(
                self.state_key(RenewalState.SUBMITTED), 0, -1
            )
        ]
        pipeline = self._redis.pipeline(transaction=False)
        for thumbprint in thumbprints:
            pipeline.hget(self.record_key(thumbprint), "order_id")
        order_ids = pipeline.execute()
        return {
            int(_text(order_id)): thumbprint
            for thumbprint, order_id in zip(thumbprints, order_ids, strict=True)
            if order_id
        }

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
        return [_record_from_hash(raw) for raw in pipeline.execute() if raw]

    def _move(
        self, thumbprint: str, *, transition: str, **changes: Unpack[_Changes]
    ) -> RenewalRecord:
        request = _transition_request(thumbprint, **changes)
        allowed, fields = changes["allowed"], changes.get("fields") or {}
        answer = self._transition(keys=self._keys(thumbprint), args=[request])
        outcome, current = _text(answer[0]), _text(answer[1])
        if outcome != "ok":
            raise _conflict(
                thumbprint,
                transition=transition,
                current=current,
                allowed=allowed,
                field=_text(answer[2]),
                recorded=_text(answer[3]),
                asked=fields.get(_text(answer[2]), ""),
            )
        record = _record_from_hash(_pairs(answer[2]))
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
    "failure_code",
    "failure_message",
    "failed_state",
    "failed_at",
)


def _claim_request(claim: Claim, now: datetime) -> str:
    return _transition_request(
        claim.thumbprint,
        to=RenewalState.CLAIMED,
        allowed=[ABSENT],
        now=now,
        fields={
            "thumbprint": claim.thumbprint,
            "name": claim.name,
            "source": claim.source,
            "due_at": _iso(claim.due_at, "due_at"),
            "claimed_at": _iso(now),
            "generation": "1",
            "attempts": "0",
        },
    )


def _transition_request(
    thumbprint: str,
    *,
    to: RenewalState | None,
    allowed: Sequence[str],
    now: datetime,
    fields: Mapping[str, str] | None = None,
    guard: Mapping[str, str] | None = None,
    guard_same: Mapping[str, str] | None = None,
    incr: Mapping[str, int] | None = None,
    delete: Sequence[str] = (),
    archive_alternative_id: bool = False,
    remember_state_in: str = "",
    drop_order: bool = False,
    index_order: int | None = None,
) -> str:
    """The JSON argument of the transition script (see TRANSITION_SCRIPT)."""
    _check_utc(now, "now")
    score = now.timestamp()
    request: dict[str, Any] = {
        "thumbprint": thumbprint,
        "states": [state.value for state in ALL_STATES],
        "from": [str(state) for state in allowed],
        "to": "" if to is None else to.value,
        "set": {
            **(fields or {}),
            "updated_at": _iso(now),
            "updated_score": repr(score),
        },
        "guard": dict(guard or {}),
        "guard_same": dict(guard_same or {}),
        "incr": dict(incr or {}),
        "delete": list(delete),
        "archive_alternative_id": archive_alternative_id,
        "remember_state_in": remember_state_in,
        "drop_order": drop_order,
        "index_order": "" if index_order is None else str(index_order),
        "score": repr(score),
    }
    return json.dumps(request)


def _conflict(
    thumbprint: str,
    *,
    transition: str,
    current: str,
    allowed: Sequence[str],
    field: str,
    recorded: str,
    asked: str,
) -> LedgerConflict:
    current_state = current or None
    if current_state is None:
        message = (
            f"renewal {thumbprint}: {transition} refused: the ledger has no "
            f"record of this renewal"
        )
    elif field:
        message = (
            f"renewal {thumbprint}: {transition} refused: the record "
            f"({current}) already has {field} {recorded!r}, and "
            f"{transition} asked for {asked!r}"
        )
    else:
        names = ", ".join(state or "no record" for state in allowed)
        message = (
            f"renewal {thumbprint}: {transition} refused: the record is "
            f"{current}, and {transition} is allowed only from {names}"
        )
    return LedgerConflict(
        message,
        thumbprint=thumbprint,
        current_state=current_state,
        transition=transition,
    )


def _record_from_hash(raw: Mapping[Any, Any]) -> RenewalRecord:
    fields = {_text(key): _text(value) for key, value in raw.items()}

    def text(name: str) -> str | None:
        value = fields.get(name)
        return value if value else None

    def number(name: str) -> int | None:
        value = text(name)
        return None if value is None else int(value)

    def moment(name: str) -> datetime | None:
        value = text(name)
        return None if value is None else datetime.fromisoformat(value)

    failed_state = text("failed_state")
    return RenewalRecord(
        thumbprint=fields["thumbprint"],
        state=RenewalState(fields["state"]),
        name=fields.get("name", ""),
        source=fields.get("source", ""),
        due_at=datetime.fromisoformat(fields["due_at"]),
        claimed_at=datetime.fromisoformat(fields["claimed_at"]),
        updated_at=datetime.fromisoformat(fields["updated_at"]),
        generation=int(fields.get("generation", "1")),
        attempts=int(fields.get("attempts", "0")),
        key_location=text("key_location"),
        key_stored_at=moment("key_stored_at"),
        action=text("action"),
        alternative_order_id=text("alternative_order_id"),
        intent_at=moment("intent_at"),
        order_id=number("order_id"),
        request_ids=tuple(json.loads(fields.get("request_ids") or "[]")),
        order_status=text("order_status"),
        submitted_at=moment("submitted_at"),
        certificate_id=number("certificate_id"),
        issued_at=moment("issued_at"),
        new_thumbprint=text("new_thumbprint"),
        new_not_after=moment("new_not_after"),
        installed_location=text("installed_location"),
        installed_at=moment("installed_at"),
        failure_code=text("failure_code"),
        failure_message=text("failure_message"),
        failed_state=None if failed_state is None else RenewalState(failed_state),
        failed_at=moment("failed_at"),
        previous_alternative_order_ids=tuple(
            json.loads(fields.get("previous_alternative_order_ids") or "[]")
        ),
    )


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    """A flat HGETALL reply from a script ([field, value, ...]) as a dict."""
    return {
        _text(flat[index]): _text(flat[index + 1]) for index in range(0, len(flat), 2)
    }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _iso(moment: datetime, name: str = "now") -> str:
    _check_utc(moment, name)
    return moment.astimezone(UTC).isoformat()


def _check_utc(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"ledger: {name} must be timezone-aware (UTC), got {moment!r}")


def _check_thumbprint(thumbprint: str) -> None:
    if not THUMBPRINT_PATTERN.fullmatch(thumbprint):
        raise ValueError(
            f"thumbprint must be 40 uppercase hex digits (SHA-1 of the DER, "
            f"API.md 'Thumbprints'), got {thumbprint!r}"
        )
