"""What the ledger holds: renewal states, records, claims, alternative ids."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from certrenew.errors import CertrenewError

DEFAULT_INSTALLED_RETENTION = timedelta(days=30)

# How many expired installed records one prune removes; the rest go next time.
PRUNE_BATCH = 100
# How often installs look for records past the retention (a round trip each
# time): against a retention of days, an hour late is nothing.
PRUNE_INTERVAL = timedelta(hours=1)

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
class CountedAttempt:
    """A step's start: its record with the try counted, and the ledger's start."""

    record: RenewalRecord
    ledger_began_at: datetime | None


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
    # Set while the issued certificate waits for its install window.
    install_after: datetime | None = None
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

    def install_waits_at(self, now: datetime) -> bool:
        """Whether the issued certificate waits for its install window at ``now``."""
        return (
            self.install_after is not None
            and self.install_after > now
            and self.state in {RenewalState.SUBMITTED, RenewalState.ISSUED}
        )


def alternative_order_id(thumbprint: str, generation: int) -> str:
    """The ``alternative_order_id`` sent with the orders of one renewal.

    ``certrenew`` + the old thumbprint + ``g`` + the generation: alphanumeric
    and at most 64 characters (the endpoint page), the same on every retry of
    one generation (so an order created by a post that got no answer is found
    and adopted), and new after a requeue (so a rejected order is not adopted
    again). It is a lookup key, not a lock: DigiCert does not promise that it
    is unique (API.md, "Ordering and renewing").
    """
    check_thumbprint(thumbprint)
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
# state in the order of request.states, then the submitted-since and the
# install-waiting indexes.
# ARGV[1] is the request as JSON:
#   from: allowed current states ("" = no record); to: the new state ("" =
#   stay in the current one, for updates that are not transitions);
#   guard: fields that, when already set, must hold this value;
#   guard_same: the same, checked only when the record is already in `to`;
#   set / delete / incr: field changes; score: the time of the change;
#   archive_alternative_id: push the current alternative id to the history;
#   remember_state_in: a field that keeps the state left behind, unless the
#   record already is in `to` (failed_state: whether an order may exist);
#   drop_order: remove the record's order id from the index;
#   index_order: add this order id to the index;
#   submitted_score: the submission time, for the submitted-since index (the
#   key after the state sets), which a record leaves with *submitted*;
#   install_after_score: when its install window opens, for the
#   install-waiting index (the last key), left with *submitted* and *issued*.
# Returns {"ok", previous state, the record as a flat list} or
# {"conflict", current state, field, recorded value}.


@dataclass(frozen=True)
class InstallWait:
    """A certificate whose renewal waits for its install window."""

    name: str
    source: str
    opens_at: datetime


@dataclass(frozen=True)
class PendingOrders:
    """The renewals waiting on DigiCert: what the metrics and the page show."""

    oldest_submitted_at: datetime | None
    # Submitted before the pending deadline asked about.
    overdue: int


def pending_orders_of(
    submitted: Iterable[RenewalRecord], *, overdue_before: datetime
) -> PendingOrders:
    """The same, from the *submitted* records themselves."""
    since = [record.submitted_at for record in submitted if record.submitted_at]
    return PendingOrders(
        oldest_submitted_at=min(since, default=None),
        overdue=sum(1 for moment in since if moment < overdue_before),
    )


def record_from_hash(raw: Mapping[Any, Any]) -> RenewalRecord:
    fields = {as_text(key): as_text(value) for key, value in raw.items()}

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
        install_after=moment("install_after"),
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


def field_pairs(flat: Sequence[Any]) -> dict[str, str]:
    """A flat HGETALL reply from a script ([field, value, ...]) as a dict."""
    return {
        as_text(flat[index]): as_text(flat[index + 1])
        for index in range(0, len(flat), 2)
    }


def as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def iso_utc(moment: datetime, name: str = "now") -> str:
    check_utc(moment, name)
    return moment.astimezone(UTC).isoformat()


def check_utc(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"ledger: {name} must be timezone-aware (UTC), got {moment!r}")


def check_thumbprint(thumbprint: str) -> None:
    if not THUMBPRINT_PATTERN.fullmatch(thumbprint):
        raise ValueError(
            f"thumbprint must be 40 uppercase hex digits (SHA-1 of the DER, "
            f"API.md 'Thumbprints'), got {thumbprint!r}"
        )
