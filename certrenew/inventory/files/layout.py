"""Which files of a folder tree make up which entry: names, suffixes, the walk.

The walk lists folders with ``os.scandir``, depth first and in name order,
and yields one ``StemFiles`` per entry name it finds (the certificate, key
and sidecar file names of one stem) or a Problem for what it cannot follow.
It opens no file: reading is the reader's work, in this process or in a pool.
It holds one folder's listing at a time, never the whole inventory.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from certrenew.inventory.entry import Problem
from certrenew.logs import get_logger

log = get_logger(__name__)

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

# A folder's identity: (device, inode), the same through any symlink to it.
Identity = tuple[int, int]
# A file's identity and version: device, inode, size, mtime and ctime in ns.
# Any write or chmod moves the ctime, which no one can set back.
FileIdentity = tuple[int, int, int, int, int]
# A certificate file and its key file, as they were when read.
PairIdentity = tuple[FileIdentity, FileIdentity]


@dataclass(slots=True)
class StemFiles:
    """The files one folder holds for one entry name; any of them may be missing."""

    folder: str
    name: str
    stem: str
    # Several when both NAME.crt and NAME.pem exist: the first is used.
    certificates: tuple[str, ...]
    key: str | None
    sidecar: str | None
    # Set by the scan when the certificate and key files are unchanged since
    # an earlier scan found that they match (see FileSource.scan).
    known_pair: PairIdentity | None = None


@dataclass
class _Listing:
    """The inventory files of one folder, grouped by stem."""

    certificates: dict[str, list[str]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    sidecars: dict[str, str] = field(default_factory=dict)

    def add(self, file_name: str) -> None:
        if file_name.endswith(SIDECAR_SUFFIX):
            self.sidecars[file_name.removesuffix(SIDECAR_SUFFIX)] = file_name
        elif file_name in CHAIN_FILE_NAMES or file_name.endswith(CHAIN_FILE_SUFFIXES):
            log.debug("chain_file_skipped", file=file_name)
        elif file_name.endswith(KEY_SUFFIX):
            self.keys[file_name.removesuffix(KEY_SUFFIX)] = file_name
        elif file_name.endswith(CERTIFICATE_SUFFIXES):
            stem = file_name[: -len(".crt")]
            self.certificates.setdefault(stem, []).append(file_name)

    def stem_files(self, folder: str, prefix: str) -> Iterator[StemFiles]:
        stems = self.certificates.keys() | self.keys.keys() | self.sidecars.keys()
        for stem in sorted(stems):
            yield StemFiles(
                folder=folder,
                name=f"{prefix}{stem}",
                stem=stem,
                certificates=tuple(self.certificates.get(stem, ())),
                key=self.keys.get(stem),
                sidecar=self.sidecars.get(stem),
            )


def walk(root: Path, label: str) -> Iterator[StemFiles | Problem]:
    """Every entry's files below ``root``, and every folder or link that failed."""
    return _Walk(label).run(root)


def is_inventory_file(file_name: str) -> bool:
    return file_name.endswith((*CERTIFICATE_SUFFIXES, KEY_SUFFIX, SIDECAR_SUFFIX))


def os_reason(error: OSError) -> str:
    """Why a file or folder could not be used, for a Problem."""
    if error.errno == errno.ELOOP:
        return "symlink loop: the link points back to itself; not followed"
    if isinstance(error, PermissionError):
        return "cannot read: permission denied"
    return f"cannot read: {error.strerror}"


class _Walk:
    """One depth-first walk; remembers the folders seen, to follow each once."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.seen: dict[Identity, str] = {}

    def run(self, root: Path) -> Iterator[StemFiles | Problem]:
        if not root.is_dir():
            reason = "is not a folder" if root.exists() else "does not exist"
            yield self._problem(str(root), f"inventory folder {reason}")
            return

        root_id = _identity(os.stat(root))
        self.seen[root_id] = str(root)
        # Each item holds a folder, its name prefix and the identities of the
        # folders above it, to tell a symlink loop from a second way in.
        pending: list[tuple[str, str, tuple[Identity, ...]]] = [
            (str(root), "", (root_id,))
        ]
        while pending:
            folder, prefix, ancestors = pending.pop()
            subfolders: list[tuple[str, str, tuple[Identity, ...]]] = []
            yield from self._folder(folder, prefix, ancestors, subfolders)
            pending.extend(reversed(subfolders))

    def _folder(
        self,
        folder: str,
        prefix: str,
        ancestors: tuple[Identity, ...],
        subfolders: list[tuple[str, str, tuple[Identity, ...]]],
    ) -> Iterator[StemFiles | Problem]:
        try:
            with os.scandir(folder) as listing:
                children = sorted(listing, key=lambda child: child.name)
        except OSError as error:
            yield self._problem(folder, f"cannot list folder: {error.strerror}")
            return

        files = _Listing()
        for child in children:
            if child.name.startswith("."):
                # Our own temporary files, or an editor's.
                continue
            try:
                is_folder = child.is_dir()
                is_file = not is_folder and child.is_file()
            except OSError as error:
                yield self._problem(child.path, os_reason(error))
                continue

            if is_folder:
                problem = self._enter(child, prefix, ancestors, subfolders)
                if problem is not None:
                    yield problem
            elif is_file:
                files.add(child.name)
            elif child.is_symlink() and is_inventory_file(child.name):
                yield self._problem(
                    child.path, "broken symlink: its target does not exist"
                )

        yield from files.stem_files(folder, prefix)

    def _enter(
        self,
        child: os.DirEntry[str],
        prefix: str,
        ancestors: tuple[Identity, ...],
        subfolders: list[tuple[str, str, tuple[Identity, ...]]],
    ) -> Problem | None:
        try:
            identity = _identity(child.stat())
        except OSError as error:
            return self._problem(child.path, os_reason(error))

        if identity in ancestors:
            return self._problem(
                child.path,
                f"symlink loop: leads back to {self.seen[identity]}, which "
                "contains it; not followed",
            )
        if identity in self.seen:
            log.debug(
                "folder_already_scanned", path=child.path, as_=self.seen[identity]
            )
            return None

        self.seen[identity] = child.path
        subfolders.append(
            (child.path, f"{prefix}{child.name}/", (*ancestors, identity))
        )
        return None

    def _problem(self, path: str, reason: str) -> Problem:
        return Problem(source=self.label, location=path, error=reason)


def file_identity(status: os.stat_result) -> FileIdentity:
    return (
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )


def _identity(status: os.stat_result) -> Identity:
    return status.st_dev, status.st_ino
