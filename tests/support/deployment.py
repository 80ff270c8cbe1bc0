"""What the process tests deploy `certrenew` against: a sandbox, an inventory
folder and the configuration file naming them and a Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sandbox import SandboxConfig, SandboxServer
from tests.support.config import write_config
from tests.support.processes import CertrenewProcess
from tests.support.sandbox import TEST_API_KEY, running_sandbox


@dataclass(frozen=True)
class Deployment:
    sandbox: SandboxServer
    folder: Path  # the inventory: certificate and key files
    config: Path
    logs: Path  # where each process writes its output

    def start(self, command: str, *, api_key: str = TEST_API_KEY) -> CertrenewProcess:
        """`certrenew COMMAND` on this configuration, as a child process."""
        return CertrenewProcess(command, self.config, self.logs, api_key=api_key)


@contextmanager
def deployed(
    tmp_path: Path,
    redis_url: str,
    *,
    sandbox_config: SandboxConfig | None = None,
    redelivery_after_seconds: float = 60,
) -> Iterator[Deployment]:
    """An empty inventory and its configuration in ``tmp_path``, and the sandbox
    served until the block ends."""
    folder = tmp_path / "inventory"
    folder.mkdir()
    with running_sandbox(sandbox_config) as sandbox:
        config = tmp_path / "certrenew.toml"
        write_config(
            config,
            redis_url=redis_url,
            base_url=sandbox.base_url,
            folder=folder,
            redelivery_after_seconds=redelivery_after_seconds,
        )
        yield Deployment(sandbox, folder, config, logs=tmp_path)
