"""`certrenew scheduler`: the process that decides when certificates renew."""

from __future__ import annotations

import argparse

from certrenew.commands._common import add_config_argument, load_settings_for
from certrenew.errors import ConfigError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "scheduler",
        help="scan the inventory, queue due renewals and follow their orders",
        description="Run the scheduler: one leads through a lock in Redis, others "
        "wait as standby. SIGTERM finishes the running job and exits.",
    )
    add_config_argument(parser)
    parser.set_defaults(handler=run_scheduler)


def run_scheduler(arguments: argparse.Namespace) -> int:
    settings = load_settings_for(arguments)
    if settings.redis.url is None:
        raise ConfigError(
            [
                "redis.url: `certrenew scheduler` needs a Redis server shared with "
                "the workers; set [redis] url (or CERTRENEW_REDIS__URL), or run "
                "both in one process with `certrenew run`"
            ]
        )

    from certrenew.logs import configure_logging
    from scheduler.service import SchedulerService, run_until_signalled
    from worker.bootstrap import start_runtime

    configure_logging(settings.logging, process="scheduler")
    runtime = start_runtime(settings)
    return run_until_signalled(SchedulerService(runtime))
