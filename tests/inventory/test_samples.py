"""The sample inventory holds what it promises, as the scan sees it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509

from certrenew.config import Settings
from certrenew.inventory.files import FileSource
from certrenew.samples import LocalCA, SampleInventory, make_sample_inventory
from scheduler.scan import ScanReport, scan_sources
from tests.inventory.conftest import NOW


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleInventory:
    return make_sample_inventory(tmp_path_factory.mktemp("sample"), NOW)


@pytest.fixture(scope="module")
def report(sample: SampleInventory) -> ScanReport:
    return scan_sources([FileSource(sample.folder, Settings())], NOW)


def test_the_scan_finds_every_sample_certificate_and_the_due_ones(
    sample: SampleInventory, report: ScanReport
) -> None:
    found = {s.entry.name: s.due for s in report.entries}

    assert sorted(found) == sorted(c.name for c in sample.certificates)
    assert sorted(name for name, due in found.items() if due.is_due) == (
        sample.due_names
    )
    for certificate in sample.certificates:
        expected = certificate.expected_rule
        assert found[certificate.name].rule == expected or (
            expected is None and not found[certificate.name].is_due
        )


def test_the_sample_has_a_due_certificate_per_rule_and_some_not_due(
    sample: SampleInventory,
) -> None:
    rules = sorted(str(c.expected_rule) for c in sample.certificates)

    assert rules == [
        "None", "None", "None", "expired", "floor", "fraction", "fraction", "fraction"
    ]  # fmt: skip


def test_exactly_one_sample_file_is_broken_and_it_is_reported(
    sample: SampleInventory, report: ScanReport
) -> None:
    assert [p.location for p in report.problems] == [str(sample.broken_files[0])]


def test_the_sample_mixes_key_types_names_and_chain_layouts(
    sample: SampleInventory, report: ScanReport
) -> None:
    facts = [s.entry.facts for s in report.entries]

    assert {(f.key_type, f.key_size) for f in facts} == {("rsa", 2048), ("ec", 256)}
    assert max(len(f.dns_names) for f in facts) >= 3
    assert all(p.exists() for p in sample.chain_files)
    assert len(sample.chain_files) == 2
    names = [n for f in facts for n in f.dns_names]
    assert all(
        n.endswith((".example.com", ".example.org", ".example.net"))
        or n in {"example.com", "example.org"}
        for n in names
    )


def test_the_sample_sidecar_applies_to_its_certificate(report: ScanReport) -> None:
    entry = next(
        s.entry for s in report.entries if s.entry.name == "shop/static.example.com"
    )

    assert entry.policy.floor_days == 45
    assert entry.labels == {"team": "shop"}


def test_a_given_signer_issues_every_sample_certificate(tmp_path: Path) -> None:
    local_ca = LocalCA(NOW)
    requests: list[tuple[str, list[str]]] = []

    def recording_signer(
        csr_pem: bytes,
        common_name: str,
        dns_names: list[str],
        not_before: datetime,
        not_after: datetime,
    ) -> bytes:
        requests.append((common_name, dns_names))
        return local_ca(csr_pem, common_name, dns_names, not_before, not_after)

    sample = make_sample_inventory(tmp_path, NOW, signer=recording_signer)

    assert len(requests) == len(sample.certificates) + len(sample.broken_files)
    report = scan_sources([FileSource(tmp_path, Settings())], NOW)
    intermediate = x509.load_pem_x509_certificate(local_ca.intermediate_pem)
    for scanned in report.entries:
        leaf = x509.load_pem_x509_certificates(
            Path(scanned.entry.location).read_bytes()
        )[0]
        leaf.verify_directly_issued_by(intermediate)  # raises if another CA signed
