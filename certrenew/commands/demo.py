"""`certrenew demo`: the whole pipeline on one machine, against the sandbox.

It makes a sample inventory whose certificates the sandbox issued (some due,
some not, one broken file), starts the sandbox in this process, runs the
scheduler and the worker on the embedded store, renews everything that is due,
and prints what it did. Nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

DEMO_API_KEY = "demo-api-key"
DEMO_TIMEOUT_SECONDS = 50.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "demo",
        help="renew a generated inventory against the built-in sandbox",
        description="Generate a sample inventory, start the CertCentral sandbox in "
        "this process and renew every due certificate through the whole pipeline.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for the sample inventory (default: a new temporary folder)",
    )
    parser.set_defaults(handler=run_demo)


def run_demo(arguments: argparse.Namespace) -> int:
    from certrenew.demo import DemoRun

    folder = arguments.out or Path(tempfile.mkdtemp(prefix="certrenew-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        print(f"certrenew demo: {folder} is not empty; give an empty or new folder")
        return 2

    started = time.monotonic()
    with DemoRun(folder, api_key=DEMO_API_KEY) as demo:
        demo.make_inventory(now=datetime.now(UTC))
        outcome = demo.renew_due(timeout_seconds=DEMO_TIMEOUT_SECONDS)
    outcome.print_summary(elapsed_seconds=time.monotonic() - started)
    return 0 if outcome.all_finished else 1
