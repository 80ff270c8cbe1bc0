"""certrenew's own processes (scheduler, worker) started for real by tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STOP_TIMEOUT_SECONDS = 30.0


class CertrenewProcess:
    """`certrenew COMMAND --config FILE` as a child process, output in a file."""

    def __init__(
        self, command: str, config: Path, log_dir: Path, *, api_key: str
    ) -> None:
        self.command = command
        self.log_path = log_dir / f"{command}-{time.monotonic_ns()}.log"
        environment = {
            **os.environ,
            "CERTRENEW_CERTCENTRAL__API_KEY": api_key,
            "PYTHONUNBUFFERED": "1",
        }
        environment.pop("CERTRENEW_CONFIG", None)
        arguments = [
            sys.executable,
            "-m",
            "certrenew",
            command,
            "--config",
            str(config),
        ]
        if command == "worker":
            arguments += ["--processes", "1", "--threads", "4"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                arguments,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> int:
        """SIGTERM, and the exit status once the process has stopped."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, not a shutdown."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def wait_until(condition: object, *, timeout_seconds: float, what: str) -> None:
    """Poll ``condition()`` until it is true; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_seconds} s waiting for {what}")
