"""A real sandbox served over loopback HTTP, for tests, plus its fixture."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sandbox import SandboxConfig, SandboxServer

TEST_API_KEY = "test-key"


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, **settings: Any
) -> Iterator[SandboxServer]:
    """Serve a sandbox (admin on, key ``test-key`` unless configured) until exit."""
    if config is None:
        settings.setdefault("api_keys", (TEST_API_KEY,))
        settings.setdefault("admin", True)
        settings.setdefault("seed", 1)
        config = SandboxConfig(**settings)
    server = SandboxServer(config, host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A fresh sandbox per test: key ``test-key``, admin routes on."""
    with running_sandbox() as server:
        yield server
