"""`certrenew run` with no Redis configured: one process, the embedded store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from tests.support.processes import CertrenewProcess, wait_until
from tests.support.sandbox import TEST_API_KEY, running_sandbox
from tests.support.seeding import seed_certificate

pytestmark = pytest.mark.slow


def test_run_renews_on_the_embedded_store_says_so_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "inventory"
    folder.mkdir()
    now = datetime.now(UTC)
    with running_sandbox() as sandbox:
        old = seed_certificate(
            sandbox, folder, "solo", common_name="solo.example.org",
            validity=(now - timedelta(days=80), now + timedelta(days=10)),
        )  # fmt: skip
        config = tmp_path / "certrenew.toml"
        config.write_text(
            f'[certcentral]\nbase_url = "{sandbox.base_url}"\n\n'
            f'[[inventory]]\npath = "{folder}"\n\n'
            "[scheduler]\nscan_interval_seconds = 1\nsync_interval_seconds = 1\n"
            'http_port = 0\n\n[logging]\nformat = "json"\n'
        )
        run = CertrenewProcess("run", config, tmp_path, api_key=TEST_API_KEY)
        try:
            wait_until(
                lambda: "certificate_installed" in run.output(),
                timeout_seconds=60,
                what="the renewal to be installed",
            )
        finally:
            exit_code = run.terminate()

    output = run.output()
    assert exit_code == 0, output
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(e["event"] == "embedded_store" for e in events)
    assert TEST_API_KEY not in output
    leaf = x509.load_pem_x509_certificates((folder / "solo.crt").read_bytes())[0]
    assert leaf.not_valid_after_utc > now + timedelta(days=150)
    assert (folder / "solo.crt.previous").exists()
    installed = next(e for e in events if e["event"] == "certificate_installed")
    assert installed["new_thumbprint"] != old
