"""A simulator of the CertCentral Services API endpoints certrenew uses.

The other side of the wire: it imports nothing of certrenew's. Start it in
process with ``SandboxServer(SandboxConfig(...)).start()`` or from the command
line with ``certrenew sandbox``.
"""

from sandbox.config import (
    FaultSettings,
    Organization,
    RateLimit,
    SandboxConfig,
    Validation,
)
from sandbox.errors import ApiError, SandboxConfigError, SandboxError
from sandbox.server import SandboxServer

__all__ = [
    "ApiError",
    "FaultSettings",
    "Organization",
    "RateLimit",
    "SandboxConfig",
    "SandboxConfigError",
    "SandboxError",
    "SandboxServer",
    "Validation",
]
