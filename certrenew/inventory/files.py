"""The file inventory: a folder tree of PEM certificates and their keys.

Layout, per certificate (NAME may contain dots, e.g. ``www.example.com``)::

    shop/www.example.com.crt              the certificate (or .pem), leaf first,
                                          optionally followed by its chain
    shop/www.example.com.key              its private key, unencrypted, 0600
    shop/www.example.com.certrenew.toml   optional [order], [policy], [labels]
    shop/www.example.com.key.pending      the next key, while a renewal runs
    shop/www.example.com.crt.previous     the pair replaced by the last renewal
    shop/chain.pem                        chain files: recognised, never leaves

The entry's name is the path below the root without the suffix
(``shop/www.example.com``). Hidden files are ignored: they are our own
temporary files, or editors'.

Every file is read once and parsed once, the tree is walked with ``os.scandir``
and entries are yielded as they are found, so a scan holds one folder's
listing at a time, never the whole inventory. A file that cannot be used
becomes one Problem naming the file and the reason, and the scan goes on.
"""

from __future__ import annotations

import errno
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography import x509
from pydantic import ValidationError

from certrenew.config import OrderSettings, PolicySettings, Settings
from certrenew.errors import InventoryError
from certrenew.inventory import atomic
from certrenew.inventory.entry import CertificateFacts, Entry, Installed, Problem
from certrenew.inventory.facts import (
    is_certificate_authority,
    key_matches_certificate,
    read_facts,
)
from certrenew.inventory.pem import parse_certificates, parse_private_key
from certrenew.logs import get_logger

log = get_logger(__name__)

# Certificates and keys are a few kilobytes; a bundle with a long chain stays
# far below this. Anything bigger is refused before it is read.
MAX_FILE_BYTES = 1024 * 1024

CERTIFICATE_SUFFIXES = (".crt", ".pem")
KEY_SUFFIX = ".key"
SIDECAR_SUFFIX = ".certrenew.toml"
PENDING_KEY_SUFFIX = ".key.pending"

# Names that hold a chain, never a leaf (certbot, nginx and Apache habits).
CHAIN_FILE_NAMES = frozenset(
    {
        "chain.pem",
        "fullchain.pem",
        "ca.crt",
        "ca.pem",
        "ca-bundle.crt",
        "ca-bundle.pem",
        "intermediate.crt",
        "intermediate.pem",
    }
)
CHAIN_FILE_SUFFIXES = (".chain.pem", ".chain.crt", ".fullchain.pem", ".ca-bundle.crt")

SIDECAR_TABLES = ("order", "policy", "labels")


class _BadFile(Exception):
    """One file that cannot be used; becomes a Problem with its path."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass
class _Folder:
    """The interesting files of one folder, grouped by entry stem."""

    certificates: dict[str, list[str]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    sidecars: dict[str, str] = field(default_factory=dict)

    def stems(self) -> list[str]:
        return sorted(
            self.certificates.keys() | self.keys.keys() | self.sidecars.keys()
        )


class FileSource:
    """An InventorySource over a folder tree of PEM files."""

    def __init__(
        self, root: Path, settings: Settings, *, max_file_bytes: int = MAX_FILE_BYTES
    ) -> None:
        self.root = root
        self.settings = settings
        self.max_file_bytes = max_file_bytes

    @property
    def label(self) -> str:
        return f"files:{self.root}"

    # Reading

    def scan(self) -> Iterator[Entry | Problem]:
        if not self.root.is_dir():
            reason = "is not a folder" if self.root.exists() else "does not exist"
            yield self._problem(self.root, f"inventory folder {reason}")
            return

        root_id = _identity(os.stat(self.root))
        seen = {root_id: self.root}
        # Depth first; each item holds a folder, its name prefix and the
        # identities of the folders above it, to tell a loop from a duplicate.
        pending: list[tuple[Path, str, tuple[tuple[int, int], ...]]] = [
            (self.root, "", (root_id,))
        ]
        while pending:
            folder, prefix, ancestors = pending.pop()
            subfolders: list[tuple[Path, str, tuple[tuple[int, int], ...]]] = []
            yield from self._scan_folder(folder, prefix, ancestors, seen, subfolders)
            pending.extend(reversed(subfolders))

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
            entry = self._read_entry(
                name,
                folder,
                certificate.name,
                key.name if key.is_file() else None,
                sidecar.name if sidecar.is_file() else None,
            )
        except _BadFile as bad:
            raise InventoryError(f"{bad.path}: {bad.reason}") from bad
        if entry is None:
            raise InventoryError(
                f"{certificate}: is a CA certificate (a chain file), not an entry"
            )
        return entry

    def _scan_folder(
        self,
        folder: Path,
        prefix: str,
        ancestors: tuple[tuple[int, int], ...],
        seen: dict[tuple[int, int], Path],
        subfolders: list[tuple[Path, str, tuple[tuple[int, int], ...]]],
    ) -> Iterator[Entry | Problem]:
        try:
            with os.scandir(folder) as listing:
                children = sorted(listing, key=lambda child: child.name)
        except OSError as error:
            yield self._problem(folder, f"cannot list folder: {error.strerror}")
            return

        files = _Folder()
        for child in children:
            if child.name.startswith("."):
                continue
            path = Path(child.path)
            try:
                is_folder = child.is_dir()
                is_file = not is_folder and child.is_file()
            except OSError as error:
                yield self._problem(path, _os_reason(error))
                continue

            if is_folder:
                problem = self._enter_folder(child, prefix, ancestors, seen, subfolders)
                if problem is not None:
                    yield problem
            elif is_file:
                _classify(child.name, files)
            elif child.is_symlink() and _is_inventory_file(child.name):
                yield self._problem(path, "broken symlink: its target does not exist")

        for stem in files.stems():
            yield from self._scan_stem(folder, prefix, stem, files)

    def _enter_folder(
        self,
        child: os.DirEntry[str],
        prefix: str,
        ancestors: tuple[tuple[int, int], ...],
        seen: dict[tuple[int, int], Path],
        subfolders: list[tuple[Path, str, tuple[tuple[int, int], ...]]],
    ) -> Problem | None:
        path = Path(child.path)
        try:
            identity = _identity(child.stat())
        except OSError as error:
            return self._problem(path, _os_reason(error))

        if identity in ancestors:
            return self._problem(
                path,
                f"symlink loop: leads back to {seen[identity]}, which contains "
                "it; not followed",
            )
        if identity in seen:
            log.debug("folder_already_scanned", path=str(path), as_=str(seen[identity]))
            return None

        seen[identity] = path
        subfolders.append((path, f"{prefix}{child.name}/", (*ancestors, identity)))
        return None

    def _scan_stem(
        self, folder: Path, prefix: str, stem: str, files: _Folder
    ) -> Iterator[Entry | Problem]:
        name = f"{prefix}{stem}"
        certificates = files.certificates.get(stem, [])
        if len(certificates) > 1:
            yield self._problem(
                folder / certificates[1],
                f"two certificate files for {name!r}: {certificates[0]} is used, "
                f"{certificates[1]} is ignored; remove one",
            )

        if not certificates:
            if stem in files.keys:
                yield self._problem(
                    folder / files.keys[stem],
                    f"key without a certificate: no {stem}.crt or {stem}.pem beside it",
                )
            else:
                yield self._problem(
                    folder / files.sidecars[stem],
                    f"settings for {name!r} but no certificate {stem}.crt or "
                    f"{stem}.pem beside them",
                )
            return

        try:
            entry = self._read_entry(
                name,
                folder,
                certificates[0],
                files.keys.get(stem),
                files.sidecars.get(stem),
            )
        except _BadFile as bad:
            yield self._problem(bad.path, bad.reason)
            return
        if entry is not None:
            yield entry

    def _read_entry(
        self,
        name: str,
        folder: Path,
        certificate_name: str,
        key_name: str | None,
        sidecar_name: str | None,
    ) -> Entry | None:
        """The entry, or None for a CA certificate without a key (a chain file).

        The caller says which key and sidecar files exist (from the folder
        listing when scanning), so no file is looked up twice.
        """
        certificate_path = folder / certificate_name
        stem = certificate_name[: -len(".crt")]
        key_path = folder / f"{stem}{KEY_SUFFIX}"
        has_key = key_name is not None

        leaf = _leaf(self._parse_certificates(certificate_path))
        if leaf is None and not has_key:
            log.debug("chain_file_skipped", path=str(certificate_path))
            return None
        if leaf is None:
            raise _BadFile(
                certificate_path,
                "holds only CA certificates (basicConstraints CA=true), no leaf, "
                f"yet {key_path.name} is beside it",
            )
        if not has_key:
            raise _BadFile(
                certificate_path,
                f"certificate without a key: expected {key_path.name} beside it",
            )

        facts = self._facts(certificate_path, leaf)
        self._check_key(key_path, leaf, facts.thumbprint)
        sidecar_path = folder / f"{stem}{SIDECAR_SUFFIX}"
        sidecar = self._read_sidecar(sidecar_path) if sidecar_name else {}
        order, policy = self._settings_for(name, sidecar, sidecar_path)

        return Entry(
            name=name,
            source=self.label,
            location=str(certificate_path),
            key_location=str(key_path),
            facts=facts,
            order=order,
            policy=policy,
            labels=dict(sidecar.get("labels", {})),
        )

    def _parse_certificates(self, path: Path) -> list[x509.Certificate]:
        data = self._read(path)
        try:
            return parse_certificates(data, str(path))
        except InventoryError as error:
            raise _BadFile(path, str(error)) from error

    def _facts(self, path: Path, leaf: x509.Certificate) -> CertificateFacts:
        try:
            return read_facts(leaf)
        except InventoryError as error:
            raise _BadFile(path, str(error)) from error

    def _check_key(
        self, key_path: Path, leaf: x509.Certificate, thumbprint: str
    ) -> None:
        data = self._read(key_path)
        try:
            key = parse_private_key(data, str(key_path))
        except InventoryError as error:
            raise _BadFile(key_path, str(error)) from error
        if not key_matches_certificate(key, leaf):
            raise _BadFile(
                key_path,
                f"key does not match its certificate (thumbprint {thumbprint}): "
                "the public keys differ",
            )

    def _read_sidecar(self, path: Path) -> dict[str, Any]:
        try:
            sidecar = tomllib.loads(self._read(path).decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise _BadFile(path, f"not valid TOML: {error}") from error

        unknown = sorted(set(sidecar) - set(SIDECAR_TABLES))
        if unknown:
            raise _BadFile(
                path,
                f"unknown table [{unknown[0]}]: a sidecar holds only "
                "[order], [policy] and [labels]",
            )
        for table in SIDECAR_TABLES:
            if not isinstance(sidecar.get(table, {}), dict):
                raise _BadFile(path, f"{table}: must be a table ([{table}])")
        for key, value in sidecar.get("labels", {}).items():
            if not isinstance(value, str):
                raise _BadFile(
                    path, f"labels.{key}: must be a string (given: {value!r})"
                )
        return sidecar

    def _settings_for(
        self, name: str, sidecar: Mapping[str, Any], sidecar_path: Path
    ) -> tuple[OrderSettings, PolicySettings]:
        try:
            order = self.settings.order_for(name, sidecar.get("order"))
            policy = self.settings.policy_for(name, sidecar.get("policy"))
        except ValidationError as error:
            table = "order" if error.title == "OrderSettings" else "policy"
            raise _BadFile(
                sidecar_path,
                _describe_settings_error(error, table, sidecar.get(table, {}), name),
            ) from error
        return order, policy

    def _read(self, path: Path) -> bytes:
        """The bytes of a file, read once, refusing huge files unread."""
        try:
            with path.open("rb") as stream:
                size_bytes = os.fstat(stream.fileno()).st_size
                if size_bytes > self.max_file_bytes:
                    raise _BadFile(path, self._too_large(size_bytes))
                data = stream.read(self.max_file_bytes + 1)
        except OSError as error:
            raise _BadFile(path, _os_reason(error)) from error
        if len(data) > self.max_file_bytes:
            raise _BadFile(path, self._too_large(len(data)))
        return data

    def _too_large(self, size_bytes: int) -> str:
        return (
            f"too large for a certificate or key ({size_bytes} bytes, the limit "
            f"is {self.max_file_bytes}); not read"
        )

    def _problem(self, path: Path, reason: str) -> Problem:
        return Problem(source=self.label, location=str(path), error=reason)

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


def _classify(file_name: str, files: _Folder) -> None:
    if file_name.endswith(SIDECAR_SUFFIX):
        files.sidecars[file_name.removesuffix(SIDECAR_SUFFIX)] = file_name
    elif file_name in CHAIN_FILE_NAMES or file_name.endswith(CHAIN_FILE_SUFFIXES):
        log.debug("chain_file_skipped", file=file_name)
    elif file_name.endswith(KEY_SUFFIX):
        files.keys[file_name.removesuffix(KEY_SUFFIX)] = file_name
    elif file_name.endswith(CERTIFICATE_SUFFIXES):
        stem = file_name[: -len(".crt")]
        files.certificates.setdefault(stem, []).append(file_name)


def _is_inventory_file(file_name: str) -> bool:
    return file_name.endswith((*CERTIFICATE_SUFFIXES, KEY_SUFFIX, SIDECAR_SUFFIX))


def _leaf(certificates: list[x509.Certificate]) -> x509.Certificate | None:
    """The end-entity certificate of a bundle: the first one that is not a CA.

    A bundle is usually leaf first (RFC 8446, section 4.4.2), but some are
    written root first; the CA flag decides, not the position.
    """
    for certificate in certificates:
        if not is_certificate_authority(certificate):
            return certificate
    return None


def _check_pair(name: str, chain_pem: bytes, key_pem: bytes) -> None:
    """Refuse to install a certificate that is not for this key (API.md, quirks:
    a download may return another certificate of the order)."""
    try:
        leaf = _leaf(parse_certificates(chain_pem, "the issued chain"))
        key = parse_private_key(key_pem, "the new key")
    except InventoryError as error:
        raise InventoryError(f"{name}: cannot install: {error}") from error
    if leaf is None:
        raise InventoryError(f"{name}: cannot install: the chain holds no leaf")
    if not key_matches_certificate(key, leaf):
        raise InventoryError(
            f"{name}: cannot install: the issued certificate does not match the "
            "new key; nothing was changed"
        )


def _describe_settings_error(
    error: ValidationError, table: str, sidecar_table: Mapping[str, Any], name: str
) -> str:
    problems = []
    for detail in error.errors():
        key = ".".join(str(part) for part in detail["loc"])
        top = str(detail["loc"][0]) if detail["loc"] else ""
        where = "" if top in sidecar_table else f" (from [overrides.{name!r}])"
        message = str(detail["msg"]).removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = "unknown setting (check its spelling)"
        problems.append(
            f"{table}.{key}: {message} (given: {detail.get('input')!r}){where}"
        )
    return "; ".join(problems)


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def _os_reason(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "symlink loop: the link points back to itself; not followed"
    if isinstance(error, PermissionError):
        return "cannot read: permission denied"
    return f"cannot read: {error.strerror}"


def _optional_str(path: Path | None) -> str | None:
    return None if path is None else str(path)
