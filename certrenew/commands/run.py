"""`certrenew run`: scheduler and worker in one process, for a single machine."""

from __future__ import annotations

import argparse

from certrenew.commands._common import add_config_argument, load_settings_for


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "run",
        help="run scheduler and worker in one process (embedded without Redis)",
        description="Scheduler and worker threads in one process. With no [redis] "
        "url configured it uses an embedded store and says so.",
    )
    add_config_argument(parser)
    parser.set_defaults(handler=run_all)


def run_all(arguments: argparse.Namespace) -> int:
    settings = load_settings_for(arguments)

    from dramatiq import Worker

    from certrenew.logs import configure_logging
    from scheduler.service import SchedulerService, run_until_signalled
    from worker.bootstrap import start_runtime

    configure_logging(settings.logging, process="run")
    runtime = start_runtime(settings)
    import dramatiq

    worker = Worker(dramatiq.get_broker(), worker_threads=settings.worker.threads)
    worker.start()
    try:
        return run_until_signalled(SchedulerService(runtime))
    finally:
        worker.stop()
        runtime.close()
