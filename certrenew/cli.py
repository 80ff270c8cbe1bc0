"""The `certrenew` console command: finds the subcommands and dispatches."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from certrenew import __version__, commands
from certrenew.errors import ConfigError

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certrenew",
        description="Renew DigiCert CertCentral TLS certificates, unattended.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")

    for module_info in sorted(pkgutil.iter_modules(commands.__path__)):
        # Modules starting with "_" are helpers the commands share.
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subcommands)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)

    handler = getattr(arguments, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE

    try:
        exit_code: int = handler(arguments)
    except ConfigError as error:
        for problem in error.problems:
            print(f"certrenew: configuration error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
