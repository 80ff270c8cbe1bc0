"""`certrenew renew`: queue renewals by hand, or rehearse them with --dry-run."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from certrenew.commands._common import add_config_argument, load_settings_for
from certrenew.errors import ConfigError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "renew",
        help="queue the renewal of named certificates, or of every due one",
        description="Queue renewals by hand. With --dry-run, build and check each "
        "payload, say whether it would be a renewal or a free reissue, and post "
        "nothing (order lookups only).",
    )
    add_config_argument(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("names", nargs="*", default=[], metavar="NAME")
    which.add_argument("--due", action="store_true", help="every due certificate")
    parser.add_argument("--dry-run", action="store_true", help="post nothing")
    parser.add_argument("--json", action="store_true", help="machine-readable")
    parser.set_defaults(handler=run_renew)


def run_renew(arguments: argparse.Namespace) -> int:
    settings = load_settings_for(arguments)
    if not arguments.names and not arguments.due:
        raise ConfigError(["renew: name at least one certificate, or use --due"])
    if settings.redis.url is None and not arguments.dry_run:
        raise ConfigError(
            [
                "redis.url: queuing renewals needs the Redis server the workers "
                "read; set [redis] url, or rehearse with --dry-run"
            ]
        )

    from certrenew.logs import configure_logging
    from scheduler.manual import plan_renewals, queue_renewals
    from worker.bootstrap import start_runtime

    configure_logging(settings.logging, process="renew")
    runtime = start_runtime(settings)
    now = datetime.now(UTC)
    if arguments.dry_run:
        plans = plan_renewals(
            runtime, names=arguments.names, due_only=arguments.due, now=now
        )
        _print(arguments, [plan.as_dict() for plan in plans])
        return 1 if any(plan.problem for plan in plans) else 0

    queued = queue_renewals(
        runtime, names=arguments.names, due_only=arguments.due, now=now
    )
    _print(arguments, [item.as_dict() for item in queued])
    return 1 if any(item.problem for item in queued) else 0


def _print(arguments: argparse.Namespace, rows: list[dict[str, object]]) -> None:
    if arguments.json:
        print(json.dumps(rows, indent=2, default=str))
        return
    for row in rows:
        print("  ".join(f"{key}={value}" for key, value in row.items() if value))
