from __future__ import annotations

import subprocess
import sys

import pytest

from certrenew.cli import EXIT_USAGE, main


def test_certrenew_without_a_command_prints_help_and_exits_with_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == EXIT_USAGE
    assert "usage: certrenew" in capsys.readouterr().err


def test_console_command_is_installed_and_reports_its_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "certrenew", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "0.1.0"
