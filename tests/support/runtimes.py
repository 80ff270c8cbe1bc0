"""A certrenew runtime in the test's own process, renewing at a sandbox."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from certrenew.config import (
    CertCentralSettings,
    FileSourceSettings,
    RedisSettings,
    Settings,
)
from sandbox import SandboxServer
from tests.support.sandbox import TEST_API_KEY
from worker.bootstrap import start_runtime
from worker.renewal import RenewalTarget, renew
from worker.runtime import Runtime


def runtime_at_sandbox(
    sandbox: SandboxServer,
    folder: Path,
    *,
    redis_url: str | None = None,
    **sections: Any,
) -> Runtime:
    """Renews the certificates in ``folder`` at ``sandbox``, with the test key.

    On the Redis at ``redis_url``, or on the embedded store without one;
    ``sections`` are further settings sections (``retry=RetrySettings(...)``).
    """
    if redis_url is not None:
        sections["redis"] = RedisSettings(url=redis_url)
    settings = Settings(
        certcentral=CertCentralSettings(
            base_url=sandbox.base_url, api_key=SecretStr(TEST_API_KEY)
        ),
        inventory=[FileSourceSettings(path=folder)],
        **sections,
    )
    return start_runtime(settings)


def claim_and_renew(
    runtime: Runtime, folder: Path, name: str, thumbprint: str, at: datetime
) -> None:
    """Claim the certificate ``name`` in ``folder`` and renew it, as a worker would."""
    source = f"files:{folder}"
    runtime.ledger.claim(thumbprint, name=name, source=source, due_at=at, now=at)
    renew(runtime, RenewalTarget(source, name, thumbprint), now=at)
