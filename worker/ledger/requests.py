"""The JSON requests the ledger's transition script reads, and its refusals.

A transition is one call of TRANSITION_SCRIPT (worker/ledger/scripts.py): the
request says which states it may leave, which it enters, which fields it sets,
guards or counts; a refusal comes back as the record's state and the field
that disagreed, which ``conflict`` words for people.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from worker.ledger.records import (
    ABSENT,
    ALL_STATES,
    Claim,
    LedgerConflict,
    RenewalState,
    check_utc,
    iso_utc,
)


def claim_request(claim: Claim, now: datetime) -> str:
    return transition_request(
        claim.thumbprint,
        to=RenewalState.CLAIMED,
        allowed=[ABSENT],
        now=now,
        fields={
            "thumbprint": claim.thumbprint,
            "name": claim.name,
            "source": claim.source,
            "due_at": iso_utc(claim.due_at, "due_at"),
            "claimed_at": iso_utc(now),
            "generation": "1",
            "attempts": "0",
        },
    )


def transition_request(
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
    submitted_at: datetime | None = None,
    install_after: datetime | None = None,
) -> str:
    """The JSON argument of the transition script (see TRANSITION_SCRIPT)."""
    check_utc(now, "now")
    score = now.timestamp()
    request: dict[str, Any] = {
        "thumbprint": thumbprint,
        "states": [state.value for state in ALL_STATES],
        "from": [str(state) for state in allowed],
        "to": "" if to is None else to.value,
        "set": {
            **(fields or {}),
            "updated_at": iso_utc(now),
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
        # Scores the renewal in the submitted-since index (records.py).
        "submitted_score": ""
        if submitted_at is None
        else repr(submitted_at.timestamp()),
        # Scores it in the install-waiting index (records.py).
        "install_after_score": ""
        if install_after is None
        else repr(install_after.timestamp()),
    }
    return json.dumps(request)


def conflict(
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
