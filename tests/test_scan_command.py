"""`certrenew scan` as a user runs it: a real process on the sample inventory."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certrenew.commands._scanning import PROGRESS_AFTER_ITEMS
from certrenew.inventory.files.parallel import BATCH_STEMS, LOCAL_STEMS
from certrenew.samples import SampleInventory, make_sample_inventory

CERTIFICATE_KEYS = {
    "kind",
    "name",
    "source",
    "path",
    "key_path",
    "common_name",
    "dns_names",
    "subject",
    "issuer",
    "serial_number",
    "key_type",
    "key_size",
    "signature_hash",
    "not_before",
    "not_after",
    "days_left",
    "thumbprint",
    "due",
    "due_at",
    "rule",
    "reason",
    "labels",
}
PROBLEM_KEYS = {"kind", "source", "path", "error"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleInventory:
    return make_sample_inventory(tmp_path_factory.mktemp("sample"), datetime.now(UTC))


def clean_environment() -> dict[str, str]:
    """No configuration of the machine leaks in; a wide table never wraps."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CERTRENEW_")
    }
    environment["COLUMNS"] = "200"
    return environment


def certrenew(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "certrenew", *map(str, arguments)],
        capture_output=True,
        text=True,
        check=False,
        env=clean_environment(),
    )


def test_the_table_shows_every_certificate_the_due_ones_and_the_broken_file(
    sample: SampleInventory,
) -> None:
    result = certrenew("scan", sample.folder)

    assert result.returncode == 1
    for certificate in sample.certificates:
        assert certificate.name in result.stdout
    assert "EXPIRED 3 days ago" in result.stdout
    assert "under the 30-day floor" in result.stdout
    assert f"{sample.broken_files[0]}: truncated:" in result.stdout
    assert "8 certificates, 5 due (1 expired), 1 problem" in result.stdout


def test_each_problem_goes_to_the_log_as_one_line(sample: SampleInventory) -> None:
    result = certrenew("scan", sample.folder)

    problem_lines = [
        line for line in result.stderr.splitlines() if "inventory_problem" in line
    ]
    assert len(problem_lines) == 1
    assert str(sample.broken_files[0]) in problem_lines[0]


def test_json_lists_certificates_and_problems_with_stable_keys(
    sample: SampleInventory,
) -> None:
    result = certrenew("scan", "--json", sample.folder)

    assert result.returncode == 1
    items = json.loads(result.stdout)
    certificates = [item for item in items if item["kind"] == "certificate"]
    problems = [item for item in items if item["kind"] == "problem"]
    assert all(set(item) == CERTIFICATE_KEYS for item in certificates)
    assert [set(item) for item in problems] == [PROBLEM_KEYS]
    assert problems[0]["path"] == str(sample.broken_files[0])
    assert sorted(item["name"] for item in certificates if item["due"]) == (
        sample.due_names
    )


def test_json_values_have_the_documented_types(sample: SampleInventory) -> None:
    items = json.loads(certrenew("scan", "--json", sample.folder).stdout)
    expired = next(i for i in items if i.get("name") == "shop/www.example.com")

    assert datetime.fromisoformat(expired["not_after"]).tzinfo is not None
    assert datetime.fromisoformat(expired["due_at"]).tzinfo is not None
    assert expired["due"] is True
    assert expired["rule"] == "expired"
    assert -3.1 < expired["days_left"] < -2.9
    assert expired["dns_names"] == [
        "www.example.com",
        "example.com",
        "shop.example.com",
    ]
    assert (expired["key_type"], expired["key_size"]) == ("rsa", 2048)
    assert len(expired["thumbprint"]) == 40
    assert expired["labels"] == {"team": "shop"}


def test_a_clean_inventory_exits_zero(tmp_path: Path) -> None:
    sample = make_sample_inventory(tmp_path, datetime.now(UTC))
    broken = sample.broken_files[0]
    broken.unlink()
    broken.with_suffix(".key").unlink()

    result = certrenew("scan", "--json", tmp_path)

    assert result.returncode == 0
    assert all(item["kind"] == "certificate" for item in json.loads(result.stdout))


def test_the_configured_sources_are_scanned_when_no_folder_is_given(
    sample: SampleInventory, tmp_path: Path
) -> None:
    config = tmp_path / "certrenew.toml"
    config.write_text(f'[[inventory]]\nkind = "files"\npath = "{sample.folder}"\n')

    result = certrenew("scan", "--json", "--config", config)

    names = [item.get("name") for item in json.loads(result.stdout)]
    assert "api.example.org" in names
    assert result.returncode == 1


def test_a_bad_configuration_exits_2_naming_the_file_the_key_and_the_value(
    sample: SampleInventory, tmp_path: Path
) -> None:
    config = tmp_path / "certrenew.toml"
    config.write_text('[order]\npayment_method = "card"\n')

    result = certrenew("scan", "--config", config, sample.folder)

    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{config}: order.payment_method: 'card' is refused" in result.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ("scan", "--config", "/nonexistent/certrenew.toml"),
            "configuration file not found",
        ),
        (("scan", "/nonexistent/folder"), "/nonexistent/folder: not a folder"),
        (("scan",), "nothing to scan: give folders"),
        (("scan", "--no-such-option"), "unrecognized arguments"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    arguments: tuple[str, ...], message: str
) -> None:
    result = certrenew(*arguments)

    assert result.returncode == 2
    assert message in result.stderr


def run_on_a_terminal(*arguments: str | Path) -> tuple[int, str]:
    """Run certrenew with stderr on a pseudo-terminal; return status and stderr."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "certrenew", *map(str, arguments)],
            stdout=subprocess.DEVNULL,
            stderr=terminal,
            check=False,
            env=clean_environment(),
        )
        os.close(terminal)
        output = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal side is closed: everything was read
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(controller)
    return process.returncode, output.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def large_inventory(
    sample: SampleInventory, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Past the item threshold of the progress bar: one pair copied many times."""
    folder = tmp_path_factory.mktemp("large")
    certificate = (sample.folder / "api.example.org.crt").read_bytes()
    key = (sample.folder / "api.example.org.key").read_bytes()
    for number in range(PROGRESS_AFTER_ITEMS + 20):
        (folder / f"host{number}.example.org.crt").write_bytes(certificate)
        (folder / f"host{number}.example.org.key").write_bytes(key)
    return folder


def test_a_long_scan_on_a_terminal_shows_a_progress_bar(large_inventory: Path) -> None:
    status, terminal_output = run_on_a_terminal("scan", large_inventory)

    assert status == 0
    assert "scanning" in terminal_output
    assert "certificates" in terminal_output


def test_json_never_shows_a_progress_bar(large_inventory: Path) -> None:
    status, terminal_output = run_on_a_terminal("scan", "--json", large_inventory)

    assert status == 0
    assert "scanning" not in terminal_output


def test_a_large_inventory_is_read_by_a_pool_of_processes_in_scan_order(
    sample: SampleInventory, tmp_path: Path
) -> None:
    # One good pair of the sample, copied under enough names that the scan
    # reads its first 5,000 entries itself and sends the rest to the pool.
    name = "api.example.org"
    certificate = (sample.folder / f"{name}.crt").read_bytes()
    key = (sample.folder / f"{name}.key").read_bytes()
    count = LOCAL_STEMS + 2 * BATCH_STEMS
    for number in range(count):
        folder = tmp_path / "certs" / f"site{number // 1000}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"host{number:05d}.crt").write_bytes(certificate)
        (folder / f"host{number:05d}.key").write_bytes(key)
    config = tmp_path / "certrenew.toml"
    config.write_text(
        f'[[inventory]]\npath = "{tmp_path / "certs"}"\nscan_processes = 2\n'
    )

    # The console script, as the image runs it (not python -m certrenew).
    result = subprocess.run(
        [
            Path(sys.executable).with_name("certrenew"),
            "scan",
            "--json",
            "--config",
            config,
        ],
        capture_output=True,
        text=True,
        check=False,
        env=clean_environment(),
    )

    assert result.returncode == 0, result.stderr
    names = [item["name"] for item in json.loads(result.stdout)]
    assert names == sorted(names)
    assert len(names) == count
    assert '"event": "scan_pool_started"' in result.stderr
