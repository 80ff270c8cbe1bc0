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
- ``{prefix}:submitted_since``: a sorted set of the *submitted* renewals
  scored by when they were submitted, so that how long the oldest order has
  waited, and how many are past the deadline, cost one read however many wait;
- ``{prefix}:install_waiting``: a sorted set of the renewals whose issued
  certificate waits for its install window, scored by when the window opens;
- ``{prefix}:ledger:began``: when this ledger's first claim was made. A Redis
  that lost its data starts a new ledger, and renewals claimed soon after
  that may have orders the ledger forgot (worker/renewal.py looks them up).

Installed records are kept for a retention (30 days by default) and then
pruned; failed records are kept until an operator requeues or purges them
(issue 5: a dead letter must outlive the queue).

The scripts name every key they touch in ``KEYS``; they target a single Redis
(or a fakeredis server), not Redis Cluster, whose slots would split them.
"""

from worker.ledger.records import (
    ABSENT,
    ALL_STATES,
    IN_FLIGHT_STATES,
    Claim,
    CountedAttempt,
    InstallWait,
    LedgerConflict,
    PendingOrders,
    RenewalRecord,
    RenewalState,
    alternative_order_id,
    parse_alternative_order_id,
)
from worker.ledger.store import Ledger

__all__ = [
    "ABSENT",
    "ALL_STATES",
    "IN_FLIGHT_STATES",
    "Claim",
    "CountedAttempt",
    "InstallWait",
    "Ledger",
    "LedgerConflict",
    "PendingOrders",
    "RenewalRecord",
    "RenewalState",
    "alternative_order_id",
    "parse_alternative_order_id",
]
