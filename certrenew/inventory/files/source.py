"""FileSource: the file inventory as an InventorySource, for reading and writing.

Scanning walks the tree (``layout``) and reads each entry's files
(``reading``), on several cores for a large inventory (``parallel``).
Writing stores the pending key and installs a renewed pair atomically.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Literal

from certrenew.config import Settings
from certrenew.errors import InventoryError
from certrenew.inventory import atomic
from certrenew.inventory.entry import CertificateEvent, Entry, Installed, Problem
from certrenew.inventory.facts import (
    ParsedCertificate,
    key_matches_certificate,
    leaf_of,
)
from certrenew.inventory.files.layout import (
    CERTIFICATE_SUFFIXES,
    KEY_SUFFIX,
    PENDING_KEY_SUFFIX,
    SIDECAR_SUFFIX,
    PairIdentity,
    StemFiles,
    file_identity,
    walk,
)
from certrenew.inventory.files.parallel import ParallelReader, usable_cpus
from certrenew.inventory.files.reading import BadFile, EntryReader, StemRead
from certrenew.inventory.pem import parse_certificates, parse_private_key
from certrenew.logs import get_logger

log = get_logger(__name__)

# Certificates and keys are a few kilobytes; a bundle with a long chain stays
# far below this. Anything bigger is refused before it is read.
MAX_FILE_BYTES = 1024 * 1024

# How long before a scan both files of a pair must have last changed for the
# scan to remember that they match (see _settled).
SETTLED_NS = 2_000_000_000


class FileSource:
    """An InventorySource over a folder tree of PEM files."""

    def __init__(
        self,
        root: Path,
        settings: Settings,
        *,
        max_file_bytes: int = MAX_FILE_BYTES,
        scan_processes: int | Literal["auto"] = "auto",
    ) -> None:
        self.root = root
        self.settings = settings
        self.max_file_bytes = max_file_bytes
        self.scan_processes = (
            usable_cpus() if scan_processes == "auto" else scan_processes
        )
        self._reader = EntryReader(self.label, settings, max_file_bytes)
        # Pairs of files found to match at the last full scan (see scan).
        self._matched_pairs: set[int] = set()
        self._parallel = (
            ParallelReader(self._reader, self.scan_processes)
            if self.scan_processes > 1
            else None
        )

    @property
    def label(self) -> str:
        return f"files:{self.root}"

    # Reading

    def scan(self) -> Iterator[Entry | Problem]:
        """Every entry and problem, in walk order.

        A key is checked against its certificate once: the scan remembers
        each pair of files found to match, by name and file identity, and
        while neither file changes the next scans neither read nor parse
        the key again. The memory is one integer per entry.
        """
        now_ns = time.time_ns()
        walked = self._known_pairs_marked(walk(self.root, self.label))
        if self._parallel is not None:
            results = self._parallel.read(walked)
        else:
            results = (self._read_one(unit) for unit in walked)

        matched: set[int] = set()
        for result in results:
            if result.matched_pair is not None and _settled(
                result.matched_pair, now_ns
            ):
                matched.add(_pair_key(result.name, result.matched_pair))
            yield from result.found
        self._matched_pairs = matched

    def _read_one(self, unit: StemFiles | Problem) -> StemRead:
        return (
            StemRead([unit]) if isinstance(unit, Problem) else self._reader.read(unit)
        )

    def _known_pairs_marked(
        self, walked: Iterator[StemFiles | Problem]
    ) -> Iterator[StemFiles | Problem]:
        for unit in walked:
            yield self._marked(unit) if self._matched_pairs else unit

    def _marked(self, unit: StemFiles | Problem) -> StemFiles | Problem:
        if isinstance(unit, Problem):
            return unit
        pair = _pair_on_disk(unit)
        if pair is None or _pair_key(unit.name, pair) not in self._matched_pairs:
            return unit
        unit.known_pair = pair
        return unit

    def close(self) -> None:
        """Stop the reader processes of a parallel scan, if any were started."""
        if self._parallel is not None:
            self._parallel.close()

    def load(self, name: str) -> Entry:
        folder, stem = self._locate(name)
        certificate = self._certificate_path(folder, stem)
        if certificate is None:
            raise InventoryError(
                f"{self.label}: no certificate named {name!r} "
                f"({stem}.crt or {stem}.pem in {folder})"
            )
        key = folder / f"{stem}{KEY_SUFFIX}"
        sidecar = folder / f"{stem}{SIDECAR_SUFFIX}"
        try:
            entry = self._reader.read_entry(
                name,
                str(folder),
                certificate.name,
                key.name if key.is_file() else None,
                sidecar.name if sidecar.is_file() else None,
            )
        except BadFile as bad:
            raise InventoryError(f"{bad.path}: {bad.reason}") from bad
        if entry is None:
            raise InventoryError(
                f"{certificate}: is a CA certificate (a chain file), not an entry"
            )
        return entry

    # Writing

    def store_pending_key(self, name: str, key_pem: bytes) -> str:
        folder, stem = self._locate(name)
        path = folder / f"{stem}{PENDING_KEY_SUFFIX}"
        atomic.write_atomically(path, key_pem, atomic.KEY_MODE)
        log.info("pending_key_stored", certificate=name, path=str(path))
        return str(path)

    def load_pending_key(self, name: str) -> bytes | None:
        folder, stem = self._locate(name)
        try:
            return (folder / f"{stem}{PENDING_KEY_SUFFIX}").read_bytes()
        except FileNotFoundError:
            return None

    def record_event(self, name: str, event: CertificateEvent) -> None:
        """Nothing: for files, the log line and the webhook are the record."""

    def install(self, name: str, chain_pem: bytes, key_pem: bytes) -> Installed:
        """Replace the certificate (with its chain) and key of an entry.

        Both new files are written in full and synced under temporary names
        first; then two renames put them live: the key, then the certificate.
        The certificate's rename is the commit point. Until it happens the old
        certificate is live, so its thumbprint, which keys the renewal in the
        ledger, still says "not installed", and a retry redoes both renames
        with the pending key, which is removed only at the end. In between (a
        few microseconds, or longer after a crash) a reader may see the new
        key beside the old certificate; servers refuse such a pair on reload
        (nginx: "key values mismatch") and keep serving the old one, and the
        post-install reload runs only after both renames.
        """
        folder, stem = self._locate(name)
        certificate_path = self._certificate_path(folder, stem)
        if certificate_path is None:
            raise InventoryError(f"{self.label}: no certificate named {name!r}")
        key_path = folder / f"{stem}{KEY_SUFFIX}"
        chain_pem = chain_pem.replace(b"\r\n", b"\n")
        _check_pair(name, chain_pem, key_pem)

        keep = self.settings.install.keep_previous
        previous_certificate = atomic.keep_previous(
            certificate_path, keep, atomic.CERTIFICATE_MODE
        )
        previous_key = atomic.keep_previous(key_path, keep, atomic.KEY_MODE)

        new_certificate = atomic.write_temporary(
            certificate_path, chain_pem, atomic.CERTIFICATE_MODE
        )
        new_key = atomic.write_temporary(key_path, key_pem, atomic.KEY_MODE)
        with atomic.removed_on_error(new_certificate, new_key):
            os.replace(new_key, key_path)
            os.replace(new_certificate, certificate_path)
        atomic.sync_folder(folder)

        (folder / f"{stem}{PENDING_KEY_SUFFIX}").unlink(missing_ok=True)
        atomic.sync_folder(folder)
        log.info(
            "certificate_files_written", certificate=name, path=str(certificate_path)
        )

        return Installed(
            certificate_location=str(certificate_path),
            key_location=str(key_path),
            previous_certificate_location=_optional_str(previous_certificate),
            previous_key_location=_optional_str(previous_key),
        )

    def _locate(self, name: str) -> tuple[Path, str]:
        """The folder and stem of an entry name, refusing names that leave the root."""
        parts = PurePosixPath(name).parts
        if not parts or name.startswith("/") or ".." in parts or "" in parts:
            raise InventoryError(
                f"{self.label}: entry name {name!r} must be a relative path below "
                "the inventory folder, without '..'"
            )
        return self.root.joinpath(*parts[:-1]), parts[-1]

    @staticmethod
    def _certificate_path(folder: Path, stem: str) -> Path | None:
        for suffix in CERTIFICATE_SUFFIXES:
            path = folder / f"{stem}{suffix}"
            if path.is_file():
                return path
        return None


def _check_pair(name: str, chain_pem: bytes, key_pem: bytes) -> None:
    """Refuse to install a certificate that is not for this key (API.md, quirks:
    a download may return another certificate of the order)."""
    try:
        certificates = parse_certificates(chain_pem, "the issued chain")
        key = parse_private_key(key_pem, "the new key")
    except InventoryError as error:
        raise InventoryError(f"{name}: cannot install: {error}") from error
    leaf = leaf_of(map(ParsedCertificate, certificates))
    if leaf is None:
        raise InventoryError(f"{name}: cannot install: the chain holds no leaf")
    if not key_matches_certificate(key, leaf.certificate):
        raise InventoryError(
            f"{name}: cannot install: the issued certificate does not match the "
            "new key; nothing was changed"
        )


def _pair_on_disk(files: StemFiles) -> PairIdentity | None:
    """The certificate and key files of an entry as they are now, if both exist."""
    if not files.certificates or files.key is None:
        return None
    try:
        certificate = os.stat(f"{files.folder}/{files.certificates[0]}")
        key = os.stat(f"{files.folder}/{files.key}")
    except OSError:
        return None
    return file_identity(certificate), file_identity(key)


def _pair_key(name: str | None, pair: PairIdentity) -> int:
    # A 64-bit hash, not the tuple: a few bytes per entry at 100,000 entries.
    # Two pairs sharing a hash would skip one key check, never a renewal's:
    # the worker checks the new key against what it installs.
    return hash((name, pair))


def _settled(pair: PairIdentity, now_ns: int) -> bool:
    """Both files last changed well before the scan began.

    File times tick coarsely (a few milliseconds on Linux), so a file written
    again within the same tick keeps its identity; a pair changed that
    recently is checked again at the next scan.
    """
    latest_change_ns = max(pair[0][4], pair[1][4])
    return latest_change_ns < now_ns - SETTLED_NS


def _optional_str(path: Path | None) -> str | None:
    return None if path is None else str(path)
