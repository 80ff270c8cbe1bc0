"""`certrenew demo`, the README's first command, run as a new user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from certrenew.samples import BROKEN_NAME, SAMPLE_CERTIFICATES


def test_the_demo_renews_every_due_sample_and_leaves_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "certrenew", "demo", "--out", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "reissue" in result.stdout
    assert "3 certificates were not due" in result.stdout
    assert f"{BROKEN_NAME}.crt" in result.stdout
    for sample in SAMPLE_CERTIFICATES:
        certificate = folder / f"{sample.name}.crt"
        if not certificate.exists():
            certificate = folder / f"{sample.name}.pem"
        leaf = x509.load_pem_x509_certificates(certificate.read_bytes())[0]
        key = load_pem_private_key((folder / f"{sample.name}.key").read_bytes(), None)
        assert leaf.public_key() == key.public_key()
        renewed = certificate.with_name(f"{certificate.name}.previous").exists()
        assert renewed == (sample.expected_rule is not None), sample.name


def test_the_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = subprocess.run(
        [sys.executable, "-m", "certrenew", "demo", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "is not empty" in result.stdout
    assert (tmp_path / "keep.txt").read_text() == "mine"
