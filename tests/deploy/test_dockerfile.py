"""The container image: hadolint-clean, non-root, signals reach certrenew."""

from __future__ import annotations

import re

from tests.deploy.tools import REPO_ROOT, require_tool, run_tool

DOCKERFILE = REPO_ROOT / "Dockerfile"


def _dockerfile_text() -> str:
    return DOCKERFILE.read_text(encoding="utf-8")


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = require_tool("hadolint")

    result = run_tool([hadolint, "--no-color", str(DOCKERFILE)])

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_the_image_runs_as_the_unprivileged_user_10001() -> None:
    users = re.findall(r"^USER\s+(\S+)", _dockerfile_text(), flags=re.MULTILINE)

    assert users[-1] == "10001:10001"


def test_the_entrypoint_is_exec_form_through_tini_so_sigterm_reaches_certrenew() -> (
    None
):
    entrypoint = re.search(r"^ENTRYPOINT\s+(.+)$", _dockerfile_text(), re.MULTILINE)

    assert entrypoint is not None
    assert entrypoint.group(1) == '["/usr/bin/tini", "--", "certrenew"]'


def test_the_runtime_installs_from_the_lock_file_without_dev_tools() -> None:
    text = _dockerfile_text()

    assert "uv sync --frozen --no-dev --all-extras" in text
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    assert "COPY --from=builder /app/.venv /app/.venv" in text


def test_the_build_context_leaves_out_virtualenvs_and_secrets() -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()

    # Everything is excluded first; only the listed sources come back in.
    assert lines[lines.index("*") + 1 :]
    assert "*" in lines
    assert not any(line.startswith("!.") for line in lines)
