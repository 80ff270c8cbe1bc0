"""What several subcommands share: the ``--config`` option and loading settings."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from certrenew.config import Settings

# Repeated from certrenew.config, which is not imported until a command runs:
# registering the subcommands must stay cheap (see certrenew/commands/__init__.py).
ENV_CONFIG_PATH = "CERTRENEW_CONFIG"


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """``--config PATH``; without it, ``$CERTRENEW_CONFIG``, else defaults only."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        type=Path,
        default=None,
        help=f"the TOML settings file (default: ${ENV_CONFIG_PATH}, else none)",
    )


def config_path_for(args: argparse.Namespace) -> Path | None:
    """The settings file a command reads: ``--config``, else ``$CERTRENEW_CONFIG``."""
    given: Path | None = getattr(args, "config", None)
    if given is not None:
        return given
    from_environment = os.environ.get(ENV_CONFIG_PATH)
    return Path(from_environment) if from_environment else None


def load_settings_for(args: argparse.Namespace) -> Settings:
    """The validated settings; ConfigError (exit status 2 in ``main``) if wrong."""
    from certrenew.config import load_settings

    return load_settings(config_path_for(args), os.environ)
