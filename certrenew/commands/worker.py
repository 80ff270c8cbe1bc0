"""`certrenew worker`: Dramatiq worker processes over certrenew's actors."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from certrenew.commands._common import add_config_argument, load_settings_for
from certrenew.errors import ConfigError
from certrenew.metrics.multiprocess import worker_metrics_environment

if TYPE_CHECKING:
    from certrenew.config import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "worker",
        help="run worker processes that renew and install certificates",
        description="Start Dramatiq worker processes over certrenew's actors. "
        "Needs [redis] url: workers in other processes share the queue there.",
    )
    add_config_argument(parser)
    parser.add_argument("--processes", type=int, help="worker processes")
    parser.add_argument("--threads", type=int, help="threads per process")
    parser.set_defaults(handler=run_worker)


def run_worker(arguments: argparse.Namespace) -> int:
    settings = load_settings_for(arguments)
    if settings.redis.url is None:
        raise ConfigError(
            [
                "redis.url: `certrenew worker` needs a Redis server shared with the "
                "scheduler; set [redis] url (or CERTRENEW_REDIS__URL), or run "
                "scheduler and worker in one process with `certrenew run`"
            ]
        )
    # Every renewal needs the API key: a worker that cannot read it stops
    # here, with the setting to fix, instead of failing each renewal it takes.
    settings.certcentral.read_api_key()
    if arguments.config is not None:
        os.environ["CERTRENEW_CONFIG"] = str(arguments.config)

    # Dramatiq forks the worker processes from this one: the metrics folder
    # must be set here before anything imports prometheus_client (see
    # certrenew.metrics.multiprocess), so this command imports no worker code.
    with worker_metrics_environment(settings.worker.metrics_port):
        return _run_dramatiq(arguments, settings)


def _run_dramatiq(arguments: argparse.Namespace, settings: Settings) -> int:
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    processes = arguments.processes or settings.worker.processes
    threads = arguments.threads or settings.worker.threads
    dramatiq_arguments = make_argument_parser().parse_args(
        [
            "worker.entrypoint",
            "--processes", str(processes),
            "--threads", str(threads),
            "--queues", "certrenew",
            "--skip-logging",
        ]
    )  # fmt: skip
    sys.argv = ["certrenew worker"]
    exit_code: int = dramatiq_main(dramatiq_arguments)
    return exit_code
