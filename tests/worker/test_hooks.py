from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from worker.hooks import (
    OUTPUT_TAIL_BYTES,
    hook_environment,
    run_post_install_command,
)

ENVIRONMENT = hook_environment(
    name="www",
    cert_path="/srv/tls/www.pem",
    key_path="/srv/tls/www.key",
    common_name="www.example.com",
    dns_names=["www.example.com", "example.com"],
    old_thumbprint="A" * 40,
    new_thumbprint="B" * 40,
    order_id=98765,
    not_after=datetime(2026, 11, 16, 12, tzinfo=UTC),
)


def test_the_hook_sees_every_variable_in_its_environment(tmp_path: Path) -> None:
    out = tmp_path / "env.txt"

    result = run_post_install_command(
        ["sh", "-c", 'env | grep ^CERTRENEW_ | sort > "$1"', "hook", str(out)],
        environment=ENVIRONMENT,
        timeout_seconds=30,
    )

    assert result.succeeded
    assert result.exit_code == 0
    assert out.read_text().splitlines() == [
        "CERTRENEW_CERT_PATH=/srv/tls/www.pem",
        "CERTRENEW_COMMON_NAME=www.example.com",
        "CERTRENEW_DNS_NAMES=www.example.com example.com",
        "CERTRENEW_KEY_PATH=/srv/tls/www.key",
        "CERTRENEW_NAME=www",
        "CERTRENEW_NEW_THUMBPRINT=" + "B" * 40,
        "CERTRENEW_NOT_AFTER=2026-11-16T12:00:00+00:00",
        "CERTRENEW_OLD_THUMBPRINT=" + "A" * 40,
        "CERTRENEW_ORDER_ID=98765",
    ]


def test_the_hook_keeps_the_inherited_environment(tmp_path: Path) -> None:
    out = tmp_path / "path.txt"

    run_post_install_command(
        ["sh", "-c", 'printf %s "$PATH" > "$1"', "hook", str(out)],
        environment=ENVIRONMENT,
        timeout_seconds=30,
    )

    assert out.read_text() == os.environ["PATH"]


def test_arguments_reach_the_program_without_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "args.txt"

    result = run_post_install_command(
        ["sh", "-c", 'printf "%s|" "$@" > "$0"', str(out), "$HOME", "a b", ";ls"],
        environment=ENVIRONMENT,
        timeout_seconds=30,
    )

    assert result.succeeded
    assert out.read_text() == "$HOME|a b|;ls|"


def test_a_failing_hook_is_reported_with_its_exit_code_and_output() -> None:
    result = run_post_install_command(
        ["sh", "-c", "echo reloading nginx; echo 'nginx: config broken' >&2; exit 3"],
        environment=ENVIRONMENT,
        timeout_seconds=30,
    )

    assert not result.succeeded
    assert result.exit_code == 3
    assert not result.timed_out
    assert result.output_tail == "reloading nginx\nnginx: config broken\n"
    assert result.command[0] == "sh"


def test_only_the_tail_of_a_long_output_is_kept() -> None:
    result = run_post_install_command(
        ["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; echo END"],
        environment=ENVIRONMENT,
        timeout_seconds=30,
    )

    assert result.succeeded
    assert len(result.output_tail) == OUTPUT_TAIL_BYTES
    assert result.output_tail.endswith("xxxEND\n")


def test_a_hook_that_outlives_its_timeout_is_killed_with_its_children(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "child.pid"
    # A background child: killing only sh would leave it running.
    script = f"echo started; sh -c 'echo $$ > \"{pid_file}\"; exec sleep 60' & wait"

    result = run_post_install_command(
        ["sh", "-c", script], environment=ENVIRONMENT, timeout_seconds=1
    )

    assert result.timed_out
    assert result.exit_code is None
    assert not result.succeeded
    assert result.output_tail == "started\n"
    assert _ends(int(pid_file.read_text()))


def _ends(pid: int) -> bool:
    """Whether the process is gone (or a zombie) within a few seconds."""
    stat = Path(f"/proc/{pid}/stat")
    for _ in range(100):
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in {"Z", "X"}:
            return True
        time.sleep(0.05)
    return False


def test_a_command_that_cannot_start_is_reported_not_raised() -> None:
    result = run_post_install_command(
        ["/nonexistent/reload-server"], environment=ENVIRONMENT, timeout_seconds=30
    )

    assert not result.succeeded
    assert result.exit_code is None
    assert (
        result.error
        == "cannot start /nonexistent/reload-server: No such file or directory"
    )


def test_an_empty_command_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match=r"must name a program \(given: \[\]\)"):
        run_post_install_command([], environment=ENVIRONMENT, timeout_seconds=30)
