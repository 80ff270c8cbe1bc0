"""The post-install command: tell the server a new certificate is in place.

Like certbot's deploy hooks, the command gets the renewal in its environment;
it runs without a shell (an argument list from configuration), its output is
kept (the tail only), and a timeout kills it with its children. A failing hook
is reported, never undone: the certificate stays installed, since rolling back
to one about to expire would be worse.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO

OUTPUT_TAIL_BYTES = 8192
_READ_CHUNK_BYTES = 4096
# Once the command has ended, how long to wait for its output pipe to close: a
# background child it left running may hold the pipe open for ever.
_DRAIN_AFTER_EXIT_SECONDS = 2.0


@dataclass(frozen=True)
class HookResult:
    """How the post-install command ended."""

    command: tuple[str, ...]
    # None when it never ran to an exit (not found, killed by the timeout).
    exit_code: int | None
    timed_out: bool
    # The last OUTPUT_TAIL_BYTES of stdout and stderr together, decoded.
    output_tail: str
    # Why it could not start, when it could not.
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def hook_environment(
    *,
    name: str,
    cert_path: str,
    key_path: str,
    common_name: str,
    dns_names: Sequence[str],
    old_thumbprint: str,
    new_thumbprint: str,
    order_id: int | str,
    not_after: datetime,
) -> dict[str, str]:
    """The variables ``run_post_install_command`` documents, for one install."""
    return {
        "CERTRENEW_NAME": name,
        "CERTRENEW_CERT_PATH": cert_path,
        "CERTRENEW_KEY_PATH": key_path,
        "CERTRENEW_COMMON_NAME": common_name,
        "CERTRENEW_DNS_NAMES": " ".join(dns_names),
        "CERTRENEW_OLD_THUMBPRINT": old_thumbprint,
        "CERTRENEW_NEW_THUMBPRINT": new_thumbprint,
        "CERTRENEW_ORDER_ID": str(order_id),
        "CERTRENEW_NOT_AFTER": not_after.isoformat(),
    }


def run_post_install_command(
    command: Sequence[str],
    *,
    environment: Mapping[str, str],
    timeout_seconds: float,
) -> HookResult:
    """Run the post-install command once and report how it ended.

    The command inherits certrenew's environment plus ``environment``, which
    the installer fills (``hook_environment``) with:

    - ``CERTRENEW_NAME``: the certificate's inventory name;
    - ``CERTRENEW_CERT_PATH``, ``CERTRENEW_KEY_PATH``: where the certificate
      (with its chain) and the key were installed;
    - ``CERTRENEW_COMMON_NAME``: the common name;
    - ``CERTRENEW_DNS_NAMES``: every DNS name, space-separated;
    - ``CERTRENEW_OLD_THUMBPRINT``, ``CERTRENEW_NEW_THUMBPRINT``: SHA-1
      thumbprints (40 uppercase hex digits) of the replaced and the new
      certificate;
    - ``CERTRENEW_ORDER_ID``: the CertCentral order the certificate came from;
    - ``CERTRENEW_NOT_AFTER``: the new certificate's expiry, ISO 8601 in UTC.

    Never raises for the command's sake: a command that cannot start, exits
    non-zero or outlives ``timeout_seconds`` (then it and its process group
    are killed) gives a HookResult saying so.
    """
    if not command:
        raise ValueError("post_install_command: must name a program (given: [])")
    argv = tuple(command)

    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **environment},
            # Its own process group, so that a timeout kills its children too.
            start_new_session=True,
        )
    except OSError as error:
        return HookResult(
            argv, None, False, "", error=f"cannot start {argv[0]}: {error.strerror}"
        )

    if process.stdout is None:
        raise RuntimeError("stdout=PIPE gave no pipe")
    tail = _TailReader(process.stdout)
    tail.start()
    try:
        exit_code: int | None = process.wait(timeout=timeout_seconds)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(process)
        exit_code = None
        timed_out = True
    tail.join(_DRAIN_AFTER_EXIT_SECONDS)
    return HookResult(argv, exit_code, timed_out, tail.text())


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


class _TailReader(threading.Thread):
    """Reads a pipe to its end, keeping only the last OUTPUT_TAIL_BYTES."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self._tail = bytearray()

    def run(self) -> None:
        with self._stream:
            while chunk := os.read(self._stream.fileno(), _READ_CHUNK_BYTES):
                self._tail += chunk
                del self._tail[:-OUTPUT_TAIL_BYTES]

    def text(self) -> str:
        return bytes(self._tail).decode("utf-8", "replace")
