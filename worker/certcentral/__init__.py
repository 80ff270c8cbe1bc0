"""CertCentral Services API: the client, its answers and its typed errors."""

from worker.certcentral.client import CallObserver, CertCentralClient, RateGate
from worker.certcentral.errors import (
    ApiError,
    ApiErrorDetail,
    ApiKeyRejected,
    ApiPermanentError,
    ApiPermissionDenied,
    ApiTransientError,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    UnexpectedResponse,
)
from worker.certcentral.models import (
    AlternateOrder,
    CertificateInfo,
    Domain,
    OrderCreated,
    OrderInfo,
    OrderSummary,
    Organization,
    Page,
    StatusChange,
)

__all__ = [
    "AlternateOrder",
    "ApiError",
    "ApiErrorDetail",
    "ApiKeyRejected",
    "ApiPermanentError",
    "ApiPermissionDenied",
    "ApiTransientError",
    "CallObserver",
    "CertCentralClient",
    "CertificateInfo",
    "Domain",
    "NotFound",
    "OrderCreated",
    "OrderInfo",
    "OrderSummary",
    "Organization",
    "OutcomeUnknown",
    "Page",
    "RateGate",
    "RateLimited",
    "StatusChange",
    "UnexpectedResponse",
]
