"""`certrenew sandbox`: serve the CertCentral simulator until stopped."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "sandbox",
        help="serve a local CertCentral Services API simulator",
        description="Serve a CertCentral Services API simulator on this machine.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    parser.add_argument(
        "--api-key", action="append", default=[], help="accepted key (repeatable)"
    )
    parser.add_argument(
        "--api-key-file", type=Path, help="file with one accepted key per line"
    )
    parser.add_argument("--admin", action="store_true", help="serve /admin routes")
    parser.add_argument("--state", type=Path, help="keep state in this JSON file")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="divide windows and delays by N"
    )
    parser.add_argument(
        "--pending-delay",
        type=float,
        metavar="SECONDS",
        help="issue waiting orders after this long (default: wait for an admin)",
    )
    parser.add_argument(
        "--two-intermediates", action="store_true", help="chain with 2 intermediates"
    )
    parser.add_argument("--seed", type=int, help="seed for injected faults")
    parser.set_defaults(handler=run)


def read_keys(arguments: argparse.Namespace) -> tuple[str, ...]:
    keys = list(arguments.api_key)
    if arguments.api_key_file is not None:
        text = arguments.api_key_file.read_text()
        keys.extend(line.strip() for line in text.splitlines() if line.strip())
    return tuple(keys)


def run(arguments: argparse.Namespace) -> int:
    # Imported here so that `certrenew --help` does not load the sandbox.
    from sandbox import SandboxConfig, SandboxError, SandboxServer

    try:
        keys = read_keys(arguments)
    except OSError as error:
        print(f"sandbox: cannot read --api-key-file: {error}", file=sys.stderr)
        return 2
    if not keys:
        print("sandbox: give at least one --api-key or --api-key-file", file=sys.stderr)
        return 2
    if arguments.time_scale <= 0:
        print(
            f"sandbox: --time-scale must be above 0; {arguments.time_scale} given",
            file=sys.stderr,
        )
        return 2

    config = SandboxConfig(
        api_keys=keys,
        admin=arguments.admin,
        state_file=arguments.state,
        time_scale=arguments.time_scale,
        pending_delay_seconds=arguments.pending_delay,
        two_intermediates=arguments.two_intermediates,
        seed=arguments.seed,
    )
    try:
        server = SandboxServer(config, host=arguments.host, port=arguments.port)
    except (OSError, SandboxError) as error:
        print(f"sandbox: cannot start: {error}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    server.start()
    print(server.base_url, flush=True)
    if config.admin:
        print(f"admin: {server.admin_url}", file=sys.stderr, flush=True)
    stop.wait()
    server.stop()
    return 0
