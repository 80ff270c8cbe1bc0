from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from tests.client.server import CannedServer
from worker.certcentral import CertCentralClient

API_KEY = "dc-devkey-7QX2-never-to-be-seen"

MakeClient = Callable[..., CertCentralClient]


@pytest.fixture
def server() -> Iterator[CannedServer]:
    canned = CannedServer()
    canned.start()
    yield canned
    canned.stop()


@pytest.fixture
def make_client(server: CannedServer) -> Iterator[MakeClient]:
    """Clients on the canned server; every one is closed after the test."""
    clients: list[CertCentralClient] = []

    def make(**options: Any) -> CertCentralClient:
        options.setdefault("timeout_seconds", 5)
        client = CertCentralClient(server.base_url, API_KEY, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: MakeClient) -> CertCentralClient:
    return make_client()


@pytest.fixture
def log_entries() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every structlog event, debug included, for the length of the test."""
    saved = structlog.get_config()
    capture = LogCapture()
    structlog.configure(
        processors=[capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    yield capture.entries
    structlog.configure(**saved)
