"""`certrenew status`: the renewals in flight and the failed ones, from the ledger."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from certrenew.commands._common import add_config_argument, load_settings_for
from certrenew.errors import ConfigError

if TYPE_CHECKING:
    from worker.ledger import RenewalRecord

# Rows of each kind listed unless --all: a run of 100,000 claims is read
# and printed as counts, not as 100,000 lines.
DEFAULT_LIMIT = 100


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "status",
        help="list renewals in flight and failed renewals",
        description="Read the renewal ledger in Redis: how many renewals are in "
        "each state, then the in-flight and the failed ones that have been "
        f"unchanged longest ({DEFAULT_LIMIT} of each unless --limit or --all), "
        "with their state, order and age.",
    )
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--limit",
        type=_positive_count,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"list at most N in flight and N failed (default {DEFAULT_LIMIT})",
    )
    shown.add_argument(
        "--all", action="store_true", help="list every in-flight and failed renewal"
    )
    parser.set_defaults(handler=show_status)


def _positive_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(
            f"--limit: {text!r} is not a whole number of at least 1 (use --all "
            "for every renewal)"
        )
    return count


def show_status(arguments: argparse.Namespace) -> int:
    settings = load_settings_for(arguments)
    if settings.redis.url is None:
        raise ConfigError(
            [
                "redis.url: the ledger lives in Redis; set [redis] url (the embedded "
                "store of `certrenew run` is private to its process)"
            ]
        )

    from worker.broker import connect
    from worker.ledger import Ledger

    ledger = Ledger(connect(settings))
    limit = None if arguments.all else arguments.limit
    counts = ledger.counts()
    in_flight = ledger.in_flight(limit=limit)
    failed = ledger.failed(limit=limit)

    if arguments.json:
        print(json.dumps(_as_json(counts, in_flight, failed), indent=2))
    else:
        _print_table(counts, in_flight, failed, now=datetime.now(UTC))
    return 0


def _as_json(
    counts: dict[str, int],
    in_flight: list[RenewalRecord],
    failed: list[RenewalRecord],
) -> dict[str, Any]:
    return {
        "counts": counts,
        "in_flight": [_row(record) for record in in_flight],
        "failed": [_row(record) for record in failed],
    }


def _row(record: RenewalRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "thumbprint": record.thumbprint,
        "state": str(record.state),
        "action": record.action,
        "order_id": record.order_id,
        "order_status": record.order_status,
        "attempts": record.attempts,
        "updated_at": record.updated_at.isoformat(),
        "install_after": None
        if record.install_after is None
        else record.install_after.isoformat(),
        "failure": record.failure_message,
    }


def _print_table(
    counts: dict[str, int],
    in_flight: list[RenewalRecord],
    failed: list[RenewalRecord],
    *,
    now: datetime,
) -> None:
    from rich.console import Console
    from rich.table import Table

    from worker.ledger import IN_FLIGHT_STATES, RenewalState

    in_flight_total = sum(counts[state.value] for state in IN_FLIGHT_STATES)
    failed_total = counts[RenewalState.FAILED.value]
    by_state = ", ".join(f"{state} {count}" for state, count in counts.items() if count)
    table = Table(
        title=f"renewals: {by_state or 'none'}",
        caption=(
            f"{len(in_flight)} of {in_flight_total} in flight and "
            f"{len(failed)} of {failed_total} failed, unchanged longest first"
        ),
    )
    for column in ("certificate", "state", "action", "order", "status", "age", "why"):
        table.add_column(column)
    for record in in_flight + failed:
        age = now - record.claimed_at
        table.add_row(
            record.name,
            str(record.state),
            record.action or "-",
            str(record.order_id or "-"),
            _order_status(record, now),
            f"{age.total_seconds() / 3600:.1f} h",
            record.failure_message or "",
        )
    Console().print(table)


def _order_status(record: RenewalRecord, now: datetime) -> str:
    if record.install_waits_at(now) and record.install_after is not None:
        opens = record.install_after.strftime("%Y-%m-%d %H:%M UTC")
        return f"install window opens {opens}"
    return record.order_status or "-"
