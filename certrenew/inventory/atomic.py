"""Durable, atomic file writes for keys and certificates.

A file is written to a temporary name in its own folder, flushed to disk, then
renamed over the target: rename is atomic within one filesystem (POSIX
``rename(2)``), so a reader sees the old file or the new one, never half of
one. The folder is synced afterwards so that the rename itself survives a
power loss.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

KEY_MODE = 0o600
CERTIFICATE_MODE = 0o644


def write_temporary(target: Path, data: bytes, mode: int) -> Path:
    """Write ``data`` durably beside ``target`` under a hidden temporary name.

    mkstemp creates the file with mode 0600, so a key is never readable by
    others, not even for an instant; the final mode is set before writing.
    """
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        os.unlink(temporary)
        raise
    return Path(temporary)


def write_atomically(target: Path, data: bytes, mode: int) -> None:
    """Replace ``target`` with ``data`` in one step, durably."""
    temporary = write_temporary(target, data, mode)
    try:
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    sync_folder(target.parent)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so that renames and unlinks in it reach the disk."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def removed_on_error(*paths: Path) -> Iterator[None]:
    """Delete temporary files left behind when the block fails."""
    try:
        yield
    except BaseException:
        for path in paths:
            path.unlink(missing_ok=True)
        raise


def previous_paths(live: Path, keep: int) -> list[Path]:
    """The history of a live file, newest first: ``X.previous``, then
    ``X.previous.2`` up to ``X.previous.KEEP``."""
    if keep <= 0:
        return []
    newest = live.with_name(f"{live.name}.previous")
    older = [live.with_name(f"{live.name}.previous.{n}") for n in range(2, keep + 1)]
    return [newest, *older]


def keep_previous(live: Path, keep: int, mode: int) -> Path | None:
    """Copy the live file into its history, shifting older copies down and
    dropping the oldest beyond ``keep``. Returns the newest copy's path."""
    history = previous_paths(live, keep)
    if not history or not live.exists():
        return None

    for older, newer in zip(reversed(history), reversed(history[:-1]), strict=False):
        if newer.exists():
            os.replace(newer, older)
    write_atomically(history[0], live.read_bytes(), mode)
    return history[0]
