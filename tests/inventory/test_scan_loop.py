"""The scan loop: every entry judged, every problem kept, no source stops it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from certrenew.config import Settings
from certrenew.errors import InventoryError
from certrenew.inventory.entry import (
    CertificateEvent,
    Entry,
    Installed,
    InventorySource,
    Problem,
)
from certrenew.inventory.files import FileSource
from scheduler.scan import ScanItem, ScannedEntry, scan_sources
from tests.inventory.conftest import NOW, Issue, write, write_pair


class BrokenSource:
    """A source whose backend fails half-way (as an API or a mount can)."""

    label = "broken:test"

    def scan(self) -> Iterator[Entry | Problem]:
        yield Problem(self.label, "first", "bad first object")
        raise InventoryError("backend went away")

    def load(self, name: str) -> Entry:
        raise InventoryError(name)

    def store_pending_key(self, name: str, key_pem: bytes) -> str:
        raise InventoryError(name)

    def load_pending_key(self, name: str) -> bytes | None:
        return None

    def install(self, name: str, chain_pem: bytes, key_pem: bytes) -> Installed:
        raise InventoryError(name)

    def record_event(self, name: str, event: CertificateEvent) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_failing_source_is_one_problem_and_the_next_source_is_still_scanned(
    tmp_path: Path, issue: Issue, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    write_pair(tmp_path, "due.example.com", issue(ec_key, days_left=10), ec_key)
    write_pair(tmp_path, "fine.example.com", issue(ec_key, days_left=300), ec_key)
    write(tmp_path / "broken.crt", b"")
    sources: list[InventorySource] = [BrokenSource(), FileSource(tmp_path, Settings())]
    seen: list[ScanItem] = []

    report = scan_sources(sources, NOW, on_item=seen.append)

    assert [p.error for p in report.problems] == [
        "bad first object",
        "source failed: backend went away",
        "empty file",
    ]
    assert [s.entry.name for s in report.due] == ["due.example.com"]
    assert report.counts == {"certificates": 2, "due": 1, "expired": 0, "problems": 3}
    assert len(seen) == 5
    assert report.sources == ["broken:test", f"files:{tmp_path}"]
    assert all(isinstance(s, ScannedEntry) for s in report.entries)
