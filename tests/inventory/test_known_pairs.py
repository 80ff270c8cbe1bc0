"""A key found to match its certificate is not read again while both files are
unchanged; any change to either file brings the check back."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certrenew.config import Settings
from certrenew.inventory.entry import Entry, Problem
from certrenew.inventory.files import FileSource, parallel, source
from certrenew.inventory.files.layout import StemFiles, file_identity
from certrenew.inventory.files.reading import EntryReader
from tests.inventory.conftest import Issue, key_pem, write, write_pair

MISMATCH = "key does not match its certificate"


@pytest.fixture(autouse=True)
def settled_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Files written by the test are seconds old at most; remember them anyway.
    monkeypatch.setattr(source, "SETTLED_NS", 0)
    # Six entries are a large inventory: the pool reads all but the first two.
    monkeypatch.setattr(parallel, "BATCH_STEMS", 2)
    monkeypatch.setattr(parallel, "LOCAL_STEMS", 2)


def problems(found: list[Entry | Problem]) -> list[str]:
    return [item.error for item in found if isinstance(item, Problem)]


def stem(folder: Path, name: str) -> StemFiles:
    return StemFiles(
        folder=str(folder),
        name=name,
        stem=name,
        certificates=(f"{name}.crt",),
        key=f"{name}.key",
        sidecar=None,
    )


def test_the_reader_trusts_a_known_pair_only_while_the_certificate_is_unchanged(
    tmp_path: Path, issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    certificate, key = write_pair(tmp_path, "www", issue(ec_key), ec_key)
    reader = EntryReader("files:test", Settings(), 1024 * 1024)
    known = (file_identity(os.stat(certificate)), file_identity(os.stat(key)))
    key.write_bytes(b"not a key, and never read")

    trusted = reader.read(replace(stem(tmp_path, "www"), known_pair=known))
    # The same certificate written anew, as an install does: a new file.
    copy = write(tmp_path / "www.crt.new", certificate.read_bytes())
    os.replace(copy, certificate)
    checked = reader.read(replace(stem(tmp_path, "www"), known_pair=known))

    assert problems(trusted.found) == []
    assert trusted.matched_pair == known
    assert problems(checked.found) == [
        "not a PEM file: no '-----BEGIN PRIVATE KEY-----' line"
    ]
    assert checked.matched_pair is None


@pytest.mark.parametrize("processes", [1, 2])
def test_a_key_replaced_after_a_scan_is_checked_again_at_the_next(
    tmp_path: Path,
    issue: Issue,
    ec_key: ec.EllipticCurvePrivateKey,
    other_ec_key: ec.EllipticCurvePrivateKey,
    processes: int,
) -> None:
    certificate = issue(ec_key)
    for number in range(6):
        write_pair(tmp_path, f"host{number}", certificate, ec_key)
    scanner = FileSource(tmp_path, Settings(), scan_processes=processes)
    try:
        first = list(scanner.scan())
        second = list(scanner.scan())
        write(tmp_path / "host4.key", key_pem(other_ec_key), 0o600)
        third = list(scanner.scan())
    finally:
        scanner.close()

    assert second == first
    assert problems(first) == []
    assert [p.location for p in third if isinstance(p, Problem)] == [
        str(tmp_path / "host4.key")
    ]
    assert problems(third)[0].startswith(MISMATCH)
    assert len([item for item in third if isinstance(item, Entry)]) == 5


def test_a_bundle_written_root_first_is_not_remembered(
    tmp_path: Path, issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    leaf, intermediate = pem_blocks(issue(ec_key))
    write_pair(tmp_path, "first", leaf + intermediate, ec_key)
    write_pair(tmp_path, "last", intermediate + leaf, ec_key)
    reader = EntryReader("files:test", Settings(), 1024 * 1024)

    leaf_first = reader.read(stem(tmp_path, "first"))
    leaf_last = reader.read(stem(tmp_path, "last"))

    assert problems(leaf_first.found + leaf_last.found) == []
    assert leaf_first.matched_pair is not None
    # A scan that knows a pair takes the first certificate as the leaf.
    assert leaf_last.matched_pair is None


def pem_blocks(chain: bytes) -> list[bytes]:
    end = b"-----END CERTIFICATE-----\n"
    return [block + end for block in chain.split(end) if block.strip()]
