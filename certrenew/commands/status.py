"""`certrenew status`: the renewals in flight and the failed ones, from the ledger."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from certrenew.commands._common import add_config_argument, load_settings_for
from certrenew.errors import ConfigError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "status",
        help="list renewals in flight and failed renewals",
        description="Read the renewal ledger in Redis and list every renewal that "
        "is in flight or failed, with its state, order and age.",
    )
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable")
    parser.set_defaults(handler=show_status)


def show_status(arguments: argparse.Namespace) -> int:
    settings = load_settings_for(arguments)
    if settings.redis.url is None:
        raise ConfigError(
            [
                "redis.url: the ledger lives in Redis; set [redis] url (the embedded "
                "store of `certrenew run` is private to its process)"
            ]
        )

    from rich.console import Console
    from rich.table import Table

    from worker.broker import connect
    from worker.ledger import Ledger

    ledger = Ledger(connect(settings))
    records = ledger.in_flight() + ledger.failed()
    now = datetime.now(UTC)
    if arguments.json:
        rows = [
            {
                "name": record.name,
                "thumbprint": record.thumbprint,
                "state": str(record.state),
                "action": record.action,
                "order_id": record.order_id,
                "order_status": record.order_status,
                "attempts": record.attempts,
                "updated_at": record.updated_at.isoformat(),
                "failure": record.failure_message,
            }
            for record in records
        ]
        print(json.dumps(rows, indent=2))
        return 0

    table = Table(title=f"renewals: {ledger.counts()}")
    for column in ("certificate", "state", "action", "order", "status", "age", "why"):
        table.add_column(column)
    for record in records:
        age = now - record.claimed_at
        table.add_row(
            record.name,
            str(record.state),
            record.action or "-",
            str(record.order_id or "-"),
            record.order_status or "-",
            f"{age.total_seconds() / 3600:.1f} h",
            record.failure_message or "",
        )
    Console().print(table)
    return 0
