"""`certrenew sandbox` as a real process, and state kept across restarts."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from sandbox import SandboxConfig
from tests.support.sandbox import (
    EV_PRODUCT,
    api_client,
    make_csr,
    order_body,
    running_sandbox,
)

START_TIMEOUT_SECONDS = 20


@contextmanager
def sandbox_process(*arguments: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "certrenew", "sandbox", "--port", "0", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        yield process, base_url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=START_TIMEOUT_SECONDS)


def test_the_command_prints_its_base_url_serves_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text("file-key\n")
    with sandbox_process("--api-key", "cli-key", "--api-key-file", str(key_file)) as (
        process,
        base_url,
    ):
        from_flag = httpx.get(
            f"{base_url}/organization", headers={"X-DC-DEVKEY": "cli-key"}
        )
        from_file = httpx.get(
            f"{base_url}/organization", headers={"X-DC-DEVKEY": "file-key"}
        )
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=START_TIMEOUT_SECONDS)

    assert base_url.startswith("http://127.0.0.1:")
    assert base_url.endswith("/services/v2")
    assert from_flag.status_code == 200
    assert from_file.status_code == 200
    assert exit_code == 0


def test_the_command_stops_cleanly_on_sigint() -> None:
    with sandbox_process("--api-key", "k") as (process, _):
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=START_TIMEOUT_SECONDS) == 0


def test_the_command_refuses_to_start_without_a_key() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "certrenew", "sandbox", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS,
        check=False,
    )

    assert result.returncode == 2
    assert "--api-key" in result.stderr


def test_state_survives_a_restart_and_old_certificates_still_download(
    tmp_path: Path,
) -> None:
    state_file = tmp_path / "sandbox.json"
    config = SandboxConfig(api_keys=("k",), admin=True, state_file=state_file)
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()), "shop.example.com")

    with running_sandbox(config) as first, api_client(first, "k") as client:
        created = client.post(
            f"/order/certificate/{EV_PRODUCT}",
            json=order_body(csr, alternative_order_id="keep-me"),
        ).json()
        before = client.get(
            f"/certificate/{created['certificate_id']}/download/format/pem_all"
        )

    with running_sandbox(config) as second, api_client(second, "k") as client:
        info = client.get(f"/order/certificate/{created['id']}")
        found = client.get("/order/alternate/keep-me").json()
        after = client.get(
            f"/certificate/{created['certificate_id']}/download/format/pem_all"
        )
        next_order = client.post(
            f"/order/certificate/{EV_PRODUCT}", json=order_body(csr)
        )

    assert info.status_code == 200
    assert info.json()["status"] == "issued"
    assert found["orders"][0]["order_id"] == created["id"]
    assert after.content == before.content
    assert next_order.json()["id"] == created["id"] + 1
