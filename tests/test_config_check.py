from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from certrenew.cli import EXIT_USAGE, build_parser, main
from certrenew.commands import _common
from certrenew.commands import config as config_command

API_KEY = "k3yV4LU3-never-printed-0123456789abcdef"


def run_check(
    *arguments: str, environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``certrenew config check`` as its own process, with a clean environment."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CERTRENEW_")
    }
    return subprocess.run(
        [sys.executable, "-m", "certrenew", "config", "check", *arguments],
        capture_output=True,
        text=True,
        env={**clean, **(environ or {})},
        check=False,
    )


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    """A key file and a folder of certificates, as a real installation has."""
    (tmp_path / "api-key").write_text(f"{API_KEY}\n", encoding="utf-8")
    (tmp_path / "certs").mkdir()
    return tmp_path


def write_config(folder: Path, text: str) -> Path:
    path = folder / "certrenew.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def good_config(folder: Path) -> Path:
    return write_config(
        folder,
        f"""
        [certcentral]
        base_url = "eu"
        api_key_file = "{folder / "api-key"}"

        [redis]
        url = "redis://:hunter2@127.0.0.1:6379/0"

        [[inventory]]
        path = "{folder / "certs"}"

        [order]
        organization_id = 4242
        """,
    )


def test_a_good_configuration_passes_with_a_summary_and_no_secret(
    setup: Path,
) -> None:
    path = good_config(setup)

    result = run_check("--config", str(path))

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "configuration is valid",
        f"  file:         {path}",
        "  certcentral:  https://certcentral.digicert.eu/services/v2 (EU)",
        f"  api key:      read from file {setup / 'api-key'}",
        "  redis:        redis://:***@127.0.0.1:6379/0",
        f"  inventory:    files {setup / 'certs'}",
        "  policy:       renew with 33% of the lifetime or 30 days left, "
        "spread over 24 h",
        "  order:        ssl_ev_securesite_flex, organization 4242, 1 year(s), "
        "sha256, payment balance",
        "  install:      any time",
        "  overrides:    none",
        "  logging:      auto, info",
    ]
    assert API_KEY not in result.stdout
    assert "hunter2" not in result.stdout


def test_the_file_can_be_named_by_certrenew_config(setup: Path) -> None:
    path = good_config(setup)

    result = run_check(environ={"CERTRENEW_CONFIG": str(path)})

    assert result.returncode == 0, result.stderr
    assert f"  file:         {path}" in result.stdout


def test_an_api_key_from_the_environment_is_named_by_its_variable_only(
    setup: Path,
) -> None:
    path = good_config(setup)

    result = run_check(
        "--config",
        str(path),
        environ={"CERTRENEW_CERTCENTRAL__API_KEY": API_KEY},
    )

    assert result.returncode == 0, result.stderr
    assert (
        "  api key:      from environment variable CERTRENEW_CERTCENTRAL__API_KEY "
        f"(it wins over api_key_file {setup / 'api-key'})"
    ) in result.stdout
    assert API_KEY not in result.stdout + result.stderr


def test_a_bad_configuration_lists_every_problem_and_exits_2(setup: Path) -> None:
    path = write_config(
        setup,
        """
        [certcentral]
        timeout_seconds = 0

        [order]
        payment_method = "card"
        signature_hash = "md5"

        [worker]
        thread = 4
        """,
    )

    result = run_check(
        "--config", str(path), environ={"CERTRENEW_WORKER__PROCESSES": "none"}
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}: certcentral.timeout_seconds: must be greater than 0 (given: 0)",
        f"{path}: order.signature_hash: must be 'sha256', 'sha384' or 'sha512' "
        "(given: 'md5')",
        f"{path}: order.payment_method: 'card' is refused: an unattended service "
        "must not hold card numbers; use 'balance' or 'profile' (the account's "
        "stored card) (given: 'card')",
        "environment variable CERTRENEW_WORKER__PROCESSES: worker.processes: must "
        "be a valid integer, unable to parse string as an integer (given: 'none')",
        f"{path}: worker.thread: unknown setting (check its spelling and section)",
        "certrenew: configuration has 5 problems",
    ]


def test_invalid_toml_exits_2_naming_the_file(setup: Path) -> None:
    path = write_config(setup, "[order\n")

    result = run_check("--config", str(path))

    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}: not valid TOML: ")


def test_unusable_inventory_folders_and_a_missing_api_key_are_problems(
    setup: Path,
) -> None:
    not_a_folder = setup / "api-key"
    path = write_config(
        setup,
        f"""
        [[inventory]]
        path = "{setup / "missing"}"

        [[inventory]]
        kind = "kubernetes"
        namespaces = ["web"]

        [[inventory]]
        path = "{not_a_folder}"
        """,
    )

    result = run_check("--config", str(path))

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "certcentral.api_key_file: no API key configured; set api_key_file to a "
        "file holding it, or CERTRENEW_CERTCENTRAL__API_KEY",
        f"inventory[0].path: folder '{setup / 'missing'}' does not exist",
        f"inventory[2].path: '{not_a_folder}' is not a folder",
        "certrenew: configuration has 3 problems",
    ]


def test_plain_http_to_another_host_passes_with_a_warning(setup: Path) -> None:
    path = good_config(setup)

    result = run_check(
        "--config",
        str(path),
        environ={
            "CERTRENEW_CERTCENTRAL__BASE_URL": "http://certcentral.test/services/v2"
        },
    )

    assert result.returncode == 0
    assert result.stderr == (
        "warning: certcentral.base_url: plain http to a host other than this "
        "machine sends the API key unencrypted (http://certcentral.test/services/v2)"
        "\n"
    )


def test_plain_http_to_the_local_sandbox_passes_quietly(setup: Path) -> None:
    path = good_config(setup)

    result = run_check(
        "--config",
        str(path),
        environ={
            "CERTRENEW_CERTCENTRAL__BASE_URL": "http://127.0.0.1:8443/services/v2"
        },
    )

    assert result.returncode == 0
    assert result.stderr == ""


def test_config_without_an_action_prints_its_usage_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config"]) == EXIT_USAGE
    assert "usage: certrenew config" in capsys.readouterr().err


def test_helper_modules_of_the_commands_are_not_taken_for_commands() -> None:
    parser = build_parser()

    help_text = parser.format_help()

    assert "config" in help_text
    assert "_common" not in help_text


def test_the_config_option_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CERTRENEW_CONFIG", "/from/environment.toml")

    given = argparse.Namespace(config=Path("/from/option.toml"))
    absent = argparse.Namespace(config=None)

    assert _common.config_path_for(given) == Path("/from/option.toml")
    assert _common.config_path_for(absent) == Path("/from/environment.toml")


def test_any_command_meeting_a_configuration_error_exits_2_with_each_problem(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A command that loads settings the way every command will.
    def load_only(args: argparse.Namespace) -> int:
        _common.load_settings_for(args)
        return 0

    monkeypatch.setattr(config_command, "check_config", load_only)
    path = tmp_path / "certrenew.toml"
    path.write_text("[worker]\nthreads = 0\nprocesses = 0\n", encoding="utf-8")

    exit_code = main(["config", "check", "--config", str(path)])

    assert exit_code == EXIT_USAGE
    assert capsys.readouterr().err.splitlines() == [
        f"certrenew: configuration error: {path}: worker.processes: must be "
        "greater than or equal to 1 (given: 0)",
        f"certrenew: configuration error: {path}: worker.threads: must be "
        "greater than or equal to 1 (given: 0)",
    ]


def test_the_summary_gives_the_install_windows_and_when_the_next_opens(
    setup: Path,
) -> None:
    path = good_config(setup)
    environ = {
        "CERTRENEW_POLICY__INSTALL_WINDOWS": '["Sat 02:00-03:00"]',
        "CERTRENEW_POLICY__INSTALL_TIME_ZONE": "Europe/Berlin",
    }

    result = run_check("--config", str(path), environ=environ)

    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "install:" in line]
    shown = line.split("install:", 1)[1].strip()
    assert shown.startswith("Sat 02:00-03:00 (Europe/Berlin), ")
    if shown.endswith("open now"):
        return
    opens = datetime.strptime(shown, "Sat 02:00-03:00 (Europe/Berlin), next opening "
                              "%a %Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)  # fmt: skip
    berlin = opens.astimezone(ZoneInfo("Europe/Berlin"))
    assert (berlin.strftime("%a"), berlin.hour, berlin.minute) == ("Sat", 2, 0)
    assert datetime.now(UTC) < opens < datetime.now(UTC) + timedelta(days=7)
