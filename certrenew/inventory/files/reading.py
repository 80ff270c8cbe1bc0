"""Read the files of one entry into an Entry, or into Problems that name the file.

Every file is read once and parsed once. A file that cannot be used becomes
one Problem naming the file and the reason; the caller goes on with the next
entry. The reader holds no state between entries, so the same reader works
in the scanning process and in each process of a parallel scan.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from certrenew.config import OrderSettings, PolicySettings, Settings
from certrenew.errors import InventoryError
from certrenew.inventory.entry import CertificateFacts, Entry, Problem
from certrenew.inventory.facts import (
    ParsedCertificate,
    key_matches_certificate,
    leaf_of,
)
from certrenew.inventory.files.layout import (
    KEY_SUFFIX,
    SIDECAR_SUFFIX,
    FileIdentity,
    PairIdentity,
    StemFiles,
    file_identity,
    os_reason,
)
from certrenew.inventory.pem import parse_certificates, parse_private_key
from certrenew.logs import get_logger

log = get_logger(__name__)

SIDECAR_TABLES = ("order", "policy", "labels")


class BadFile(Exception):
    """One file that cannot be used; becomes a Problem with its path."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class StemRead:
    """What reading the files of one entry name found."""

    found: list[Entry | Problem]
    # For an entry: its name, and its certificate and key files as read once
    # they were found to match (or known to, unchanged since an earlier scan).
    name: str | None = None
    matched_pair: PairIdentity | None = None


class EntryReader:
    """Turns the files of one entry into an Entry, for one source."""

    def __init__(self, label: str, settings: Settings, max_file_bytes: int) -> None:
        self.label = label
        self.settings = settings
        self.max_file_bytes = max_file_bytes

    def read(self, files: StemFiles) -> StemRead:
        """The entry of these files and the problems met, in file order."""
        found: list[Entry | Problem] = []
        if len(files.certificates) > 1:
            first, second = files.certificates[:2]
            found.append(
                self._problem(
                    f"{files.folder}/{second}",
                    f"two certificate files for {files.name!r}: {first} is used, "
                    f"{second} is ignored; remove one",
                )
            )
        if not files.certificates:
            found.append(self._orphan(files))
            return StemRead(found)

        try:
            entry, pair = self._entry(
                files.name,
                files.folder,
                files.certificates[0],
                files.key,
                files.sidecar,
                known_pair=files.known_pair,
            )
        except BadFile as bad:
            found.append(self._problem(bad.path, bad.reason))
            return StemRead(found)
        if entry is None:
            return StemRead(found)
        found.append(entry)
        return StemRead(found, name=files.name, matched_pair=pair)

    def read_entry(
        self,
        name: str,
        folder: str,
        certificate_name: str,
        key_name: str | None,
        sidecar_name: str | None,
    ) -> Entry | None:
        """The entry, or None for a CA certificate without a key (a chain file).

        The caller says which key and sidecar files exist (from the folder
        listing when scanning), so no file is looked up twice.
        """
        entry, _ = self._entry(name, folder, certificate_name, key_name, sidecar_name)
        return entry

    def _entry(
        self,
        name: str,
        folder: str,
        certificate_name: str,
        key_name: str | None,
        sidecar_name: str | None,
        *,
        known_pair: PairIdentity | None = None,
    ) -> tuple[Entry | None, PairIdentity | None]:
        certificate_path = f"{folder}/{certificate_name}"
        stem = certificate_name[: -len(".crt")]
        key_path = f"{folder}/{stem}{KEY_SUFFIX}"

        data, certificate_identity = self.read_file(certificate_path)
        certificates = self._certificates(certificate_path, data)
        # The very files that matched at an earlier scan, leaf first: the
        # certificate just read is unchanged, and the walk found the key
        # unchanged, so neither the leaf nor the key needs checking again.
        known = known_pair is not None and known_pair[0] == certificate_identity
        leaf = certificates[0] if known else leaf_of(certificates)
        if leaf is None and key_name is None:
            log.debug("chain_file_skipped", path=certificate_path)
            return None, None
        if leaf is None:
            raise BadFile(
                certificate_path,
                "holds only CA certificates (basicConstraints CA=true), no leaf, "
                f"yet {stem}{KEY_SUFFIX} is beside it",
            )
        if key_name is None:
            raise BadFile(
                certificate_path,
                f"certificate without a key: expected {stem}{KEY_SUFFIX} beside it",
            )

        facts = self._facts(certificate_path, leaf)
        pair = known_pair if known else None
        if not known:
            key_identity = self._check_key(key_path, leaf, facts.thumbprint)
            if leaf is certificates[0]:
                # Remembered only with the leaf first, where a scan that
                # knows the pair takes it from.
                pair = (certificate_identity, key_identity)
        sidecar_path = f"{folder}/{stem}{SIDECAR_SUFFIX}"
        sidecar = self._sidecar(sidecar_path) if sidecar_name else {}
        order, policy = self._settings_for(name, sidecar, sidecar_path)

        entry = Entry(
            name=name,
            source=self.label,
            location=certificate_path,
            key_location=key_path,
            facts=facts,
            order=order,
            policy=policy,
            labels=dict(sidecar.get("labels", {})),
        )
        return entry, pair

    def _orphan(self, files: StemFiles) -> Problem:
        if files.key is not None:
            return self._problem(
                f"{files.folder}/{files.key}",
                f"key without a certificate: no {files.stem}.crt or "
                f"{files.stem}.pem beside it",
            )
        return self._problem(
            f"{files.folder}/{files.sidecar}",
            f"settings for {files.name!r} but no certificate {files.stem}.crt or "
            f"{files.stem}.pem beside them",
        )

    def _certificates(self, path: str, data: bytes) -> list[ParsedCertificate]:
        try:
            certificates = parse_certificates(data, path)
        except InventoryError as error:
            raise BadFile(path, str(error)) from error
        return [ParsedCertificate(certificate) for certificate in certificates]

    def _facts(self, path: str, leaf: ParsedCertificate) -> CertificateFacts:
        try:
            return leaf.facts()
        except InventoryError as error:
            raise BadFile(path, str(error)) from error

    def _check_key(
        self, key_path: str, leaf: ParsedCertificate, thumbprint: str
    ) -> FileIdentity:
        """The identity of the key file, once its key is found to match."""
        data, identity = self.read_file(key_path)
        if leaf.key_pem_confirmed(data):
            return identity

        # The quick check cannot tell: load the key, which also says what is
        # wrong with a file that holds no usable key.
        try:
            key = parse_private_key(data, key_path)
        except InventoryError as error:
            raise BadFile(key_path, str(error)) from error
        if not key_matches_certificate(key, leaf.certificate):
            raise BadFile(
                key_path,
                f"key does not match its certificate (thumbprint {thumbprint}): "
                "the public keys differ",
            )
        return identity

    def _sidecar(self, path: str) -> dict[str, Any]:
        try:
            data, _ = self.read_file(path)
            sidecar = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise BadFile(path, f"not valid TOML: {error}") from error

        unknown = sorted(set(sidecar) - set(SIDECAR_TABLES))
        if unknown:
            raise BadFile(
                path,
                f"unknown table [{unknown[0]}]: a sidecar holds only "
                "[order], [policy] and [labels]",
            )
        for table in SIDECAR_TABLES:
            if not isinstance(sidecar.get(table, {}), dict):
                raise BadFile(path, f"{table}: must be a table ([{table}])")
        for key, value in sidecar.get("labels", {}).items():
            if not isinstance(value, str):
                raise BadFile(
                    path, f"labels.{key}: must be a string (given: {value!r})"
                )
        return sidecar

    def _settings_for(
        self, name: str, sidecar: Mapping[str, Any], sidecar_path: str
    ) -> tuple[OrderSettings, PolicySettings]:
        try:
            order = self.settings.order_for(name, sidecar.get("order"))
            policy = self.settings.policy_for(name, sidecar.get("policy"))
        except ValidationError as error:
            table = "order" if error.title == "OrderSettings" else "policy"
            raise BadFile(
                sidecar_path,
                _describe_settings_error(error, table, sidecar.get(table, {}), name),
            ) from error
        return order, policy

    def read_file(self, path: str) -> tuple[bytes, FileIdentity]:
        """The bytes of a file, read once, refusing huge files unread, and the
        identity of the file they were read from."""
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                status = os.fstat(descriptor)
                if status.st_size > self.max_file_bytes:
                    raise BadFile(path, self._too_large(status.st_size))
                data = self._read_all(descriptor, status.st_size)
            finally:
                os.close(descriptor)
        except OSError as error:
            raise BadFile(path, os_reason(error)) from error
        if len(data) > self.max_file_bytes:
            raise BadFile(path, self._too_large(len(data)))
        return data, file_identity(status)

    def _read_all(self, descriptor: int, expected_bytes: int) -> bytes:
        # Asks for the size fstat gave, plus a byte to see a file that grew
        # since, not for the limit: reading up to the limit made a buffer of
        # a megabyte per file, 20 µs of a 25 µs read (bench 1). Plain os
        # calls rather than a file object save 3 µs more.
        data = os.read(descriptor, expected_bytes + 1)
        if len(data) <= expected_bytes:
            return data  # less than asked for: the end of the file
        while len(data) <= self.max_file_bytes:
            more = os.read(descriptor, self.max_file_bytes + 1 - len(data))
            if not more:
                break
            data += more
        return data

    def _too_large(self, size_bytes: int) -> str:
        return (
            f"too large for a certificate or key ({size_bytes} bytes, the limit "
            f"is {self.max_file_bytes}); not read"
        )

    def _problem(self, path: str, reason: str) -> Problem:
        return Problem(source=self.label, location=path, error=reason)


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
