"""``certrenew scan [PATH...]``: which certificates expire when, which are due
for renewal and why, and which files are broken.

Exit status: 0 when every file could be read, 1 when a file could not be read
as a certificate or key, 2 for a usage or configuration error (raised as
ConfigError; ``certrenew.cli.main`` prints it and exits 2).

The JSON output (``--json``) is for scripts: a list with one object per
certificate (``kind`` = ``certificate``) and one per problem (``kind`` =
``problem``). Its keys are a contract; add keys, never rename or remove them.
The work is in ``_scanning``, imported only when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from certrenew.commands._common import add_config_argument, load_settings_for


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "scan",
        help="list certificates, when they expire and which are due for renewal",
        description=(
            "Scan folders of PEM certificates (or the configured inventory) and "
            "show which certificates expire when, which are due and why, and "
            "which files are broken. Exit status: 0 all read, 1 a file could "
            "not be read, 2 usage or configuration error."
        ),
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="folders to scan (default: the [[inventory]] sources configured)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        dest="as_json",
        help="print a JSON list for scripts instead of a table",
    )
    add_config_argument(parser)
    parser.set_defaults(handler=run_scan)


def run_scan(arguments: argparse.Namespace) -> int:
    # Imported when the command runs, so that registering it stays cheap.
    from certrenew.commands import _scanning

    settings = load_settings_for(arguments)
    return _scanning.scan_command(
        settings, paths=arguments.paths, as_json=arguments.as_json
    )
