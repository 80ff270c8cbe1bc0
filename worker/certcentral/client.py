"""The CertCentral Services API client: one call, one answer or one typed error.

The client classifies and never retries: whether and when to try again is the
actors' decision (backoff lives with Dramatiq). Every call goes through the
rate gate first and is reported to the observer after, both under the call's
route template (``GET /order/certificate/{id}``), never with ids or the key.

One ``CertCentralClient`` serves a whole process. It may be shared by every
worker thread: httpx documents ``httpx.Client`` as shareable between threads
(its docstring, since encode/httpx#2380), its connection pool takes a lock
around its state, and this class changes nothing after construction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar

import httpx
import structlog

from certrenew import __version__
from certrenew.errors import ConfigError, PermanentError
from worker.certcentral.answers import (
    answer_summary,
    certificate_body,
    describe_transport_error,
    error_details,
    json_object,
    permanent_error,
    without_frames,
)
from worker.certcentral.errors import (
    ApiErrorDetail,
    ApiPermanentError,
    ApiTransientError,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    UnexpectedResponse,
    parse_retry_after,
)
from worker.certcentral.models import (
    AlternateOrder,
    OrderCreated,
    OrderInfo,
    OrderSummary,
    Organization,
    ResponseShapeError,
    StatusChange,
    parse_alternate_orders,
    parse_orders,
    parse_organizations,
    parse_status_changes,
)
from worker.certcentral.paths import (
    check_alternative_order_id,
    check_base_url,
    path_format,
    path_id,
    path_segment,
    required_alternative_order_id,
)

log = structlog.get_logger(__name__)

USER_AGENT = f"certrenew/{__version__}"

# API.md, "Other endpoints": status-changes looks back at most 7 days.
MAX_STATUS_WINDOW_MINUTES = 7 * 24 * 60
MAX_PAGE_SIZE = 1000

Method = Literal["GET", "POST", "PUT"]
T = TypeVar("T")


class RateGate(Protocol):
    """The shared rate budget, asked for a slot before every request."""

    def acquire(self, *, max_wait_seconds: float) -> float:
        """Wait for a slot, at most ``max_wait_seconds``; return the seconds waited.

        A gate that cannot grant a slot in time raises a ``TransientError``
        (with ``retry_after_seconds`` when it knows when one frees up).
        """
        ...


class CallObserver(Protocol):
    """Told about every call after it ends, for metrics."""

    def observe(
        self, endpoint: str, status: int | None, duration_seconds: float
    ) -> None:
        """``status`` is None when no HTTP answer came (timeout, dropped link)."""
        ...


class CertCentralClient:
    """Typed calls to the CertCentral Services API (API.md), over one httpx.Client.

    ``base_url`` ends in ``/services/v2``. It must be https://, except for a
    loopback host (the sandbox). TLS certificates are always verified, and
    redirects are never followed (the key header must not go elsewhere).
    ``transport`` replaces httpx's network transport; it is meant for tests.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 30,
        rate_gate: RateGate | None = None,
        observer: CallObserver | None = None,
        transport: httpx.BaseTransport | None = None,
        max_rate_wait_seconds: float = 30,
    ) -> None:
        check_base_url(base_url)
        if not api_key.strip():
            raise ConfigError(["certcentral.api_key: the API key is empty"])
        if not timeout_seconds > 0:
            raise ConfigError(
                [
                    "certcentral.timeout_seconds: must be above 0 "
                    f"(given: {timeout_seconds!r})"
                ]
            )

        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._rate_gate = rate_gate
        self._observer = observer
        self._max_rate_wait_seconds = max_rate_wait_seconds
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "X-DC-DEVKEY": api_key,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=httpx.Timeout(
                connect=min(timeout_seconds, 10.0),
                read=timeout_seconds,
                write=timeout_seconds,
                pool=timeout_seconds,
            ),
            verify=True,
            follow_redirects=False,
            transport=transport or httpx.HTTPTransport(verify=True, retries=0),
        )

    def __repr__(self) -> str:
        return f"CertCentralClient(base_url={self.base_url!r})"

    def __enter__(self) -> CertCentralClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- ordering ---------------------------------------------------------------

    def order_certificate(
        self, product: str, payload: Mapping[str, Any]
    ) -> OrderCreated:
        """Place a new order (or a renewal order) for ``product``.

        The payload must carry an ``alternative_order_id``: it is how an order
        whose answer was lost is found again. A timeout after sending, a dropped
        connection or a 5xx raises ``OutcomeUnknown``.
        """
        alternative_order_id = required_alternative_order_id(payload)
        endpoint = "POST /order/certificate/{product}"
        path = f"/order/certificate/{path_segment(product, 'product')}"
        response = self._call(
            "POST",
            endpoint,
            path,
            json=payload,
            creates=True,
            alternative_order_id=alternative_order_id,
        )
        return self._created(response, endpoint, alternative_order_id)

    def reissue(self, order_id: int, payload: Mapping[str, Any]) -> OrderCreated:
        """Reissue on the same order (free while a Multi-year Plan covers it).

        An unknown outcome raises ``OutcomeUnknown``: read the order's status
        (``reissue_pending`` means the reissue was taken) before posting again.
        """
        endpoint = "POST /order/certificate/{order_id}/reissue"
        path = f"/order/certificate/{path_id(order_id, 'order_id')}/reissue"
        response = self._call("POST", endpoint, path, json=payload, creates=True)
        return self._created(response, endpoint, None)

    def cancel_order(self, order_id: int, *, note: str) -> None:
        """Cancel an order that was not issued; DigiCert answers 204."""
        self._call(
            "PUT",
            "PUT /order/certificate/{order_id}/status",
            f"/order/certificate/{path_id(order_id, 'order_id')}/status",
            json={"status": "canceled", "note": note},
        )

    # -- reading orders ---------------------------------------------------------

    def order_info(self, order_id_or_thumbprint: int | str) -> OrderInfo:
        """An order, by its id or by its certificate's thumbprint or serial."""
        endpoint = "GET /order/certificate/{id}"
        if isinstance(order_id_or_thumbprint, int):
            key = path_id(order_id_or_thumbprint, "order_id")
        else:
            key = path_segment(order_id_or_thumbprint, "order_id_or_thumbprint")
        response = self._call("GET", endpoint, f"/order/certificate/{key}")
        return self._read(response, endpoint, OrderInfo.from_json)

    def find_by_alternative_order_id(
        self, alternative_order_id: str
    ) -> list[AlternateOrder]:
        """Orders placed with this ``alternative_order_id``; [] when there are none.

        DigiCert answers 404 or leaves ``orders`` out when none match (API.md).
        A 404 for an unknown route is not "none": it raises ``NotFound``.
        """
        check_alternative_order_id(alternative_order_id, "alternative_order_id")
        endpoint = "GET /order/alternate/{alternative_order_id}"
        segment = path_segment(alternative_order_id, "alternative_order_id")
        path = f"/order/alternate/{segment}"
        try:
            response = self._call("GET", endpoint, path)
        except NotFound as error:
            if "not_found|route" in error.codes:
                raise
            return []
        return self._read(response, endpoint, parse_alternate_orders)

    def list_orders(
        self,
        *,
        status: str | None = None,
        common_name: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[OrderSummary]:
        """Every order matching the filters, page after page until ``total``."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(
                f"list_orders: page_size must be 1 to {MAX_PAGE_SIZE} "
                f"(given: {page_size!r})"
            )
        endpoint = "GET /order/certificate"
        filters: dict[str, str | int] = {}
        if status is not None:
            filters["filters[status]"] = status
        if common_name is not None:
            filters["filters[common_name]"] = common_name

        offset = 0
        while True:
            params = {**filters, "limit": page_size, "offset": offset}
            response = self._call("GET", endpoint, "/order/certificate", params=params)
            orders, page = self._read(response, endpoint, parse_orders)
            yield from orders

            offset += len(orders)
            # An empty page ends the walk even if ``total`` promised more: the
            # list shrank meanwhile, and asking again would never end.
            if page is None or not orders or offset >= page.total:
                return

    def status_changes(self, *, seconds: int) -> list[StatusChange]:
        """Orders whose status changed in the last ``seconds`` (at most 7 days).

        The API counts in minutes, so the window is rounded up to whole minutes.
        """
        if seconds <= 0:
            raise PermanentError(
                f"status-changes window: must be above 0 seconds (given: {seconds})",
                code="invalid_value:minutes",
            )
        minutes = math.ceil(seconds / 60)
        if minutes > MAX_STATUS_WINDOW_MINUTES:
            raise PermanentError(
                "status-changes window: at most 7 days "
                f"({MAX_STATUS_WINDOW_MINUTES} minutes), as DigiCert refuses "
                f"longer ones with time_frame_too_long (given: {seconds} seconds, "
                f"{minutes} minutes)",
                code="time_frame_too_long",
            )
        endpoint = "GET /order/certificate/status-changes"
        response = self._call(
            "GET",
            endpoint,
            "/order/certificate/status-changes",
            params={"minutes": minutes},
        )
        return self._read(response, endpoint, parse_status_changes)

    def organizations(self) -> list[Organization]:
        endpoint = "GET /organization"
        response = self._call("GET", endpoint, "/organization")
        return self._read(response, endpoint, parse_organizations)

    # -- certificates -----------------------------------------------------------

    def download_chain(self, certificate_id: int, *, format: str = "pem_all") -> bytes:
        """A certificate by its id; PEM formats come back with ``\\n`` line ends."""
        endpoint = "GET /certificate/{certificate_id}/download/format/{format}"
        path = (
            f"/certificate/{path_id(certificate_id, 'certificate_id')}"
            f"/download/format/{path_format(format)}"
        )
        return certificate_body(self._call("GET", endpoint, path), endpoint, format)

    def download_order_chain(self, order_id: int, *, format: str = "pem_all") -> bytes:
        """The order's current certificate; PEM formats with ``\\n`` line ends."""
        endpoint = "GET /certificate/download/order/{order_id}/format/{format}"
        path = (
            f"/certificate/download/order/{path_id(order_id, 'order_id')}"
            f"/format/{path_format(format)}"
        )
        return certificate_body(self._call("GET", endpoint, path), endpoint, format)

    # -- one call ---------------------------------------------------------------

    def _call(
        self,
        method: Method,
        endpoint: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
        creates: bool = False,
        alternative_order_id: str | None = None,
    ) -> httpx.Response:
        """Send one request and return its 2xx answer, or raise its typed error.

        ``creates`` marks a POST that may create an order: any end without an
        answer after the request left raises ``OutcomeUnknown`` instead.
        """
        waited_seconds = self._wait_for_rate_gate()

        started = time.monotonic()
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.RequestError as error:
            duration_seconds = time.monotonic() - started
            self._report(endpoint, None, duration_seconds, waited_seconds, error)
            raise self._transport_error(
                error, endpoint, creates, alternative_order_id
            ) from without_frames(error)
        duration_seconds = time.monotonic() - started
        self._report(endpoint, response.status_code, duration_seconds, waited_seconds)

        if response.is_success:
            return response
        raise self._answer_error(response, endpoint, creates, alternative_order_id)

    def _wait_for_rate_gate(self) -> float:
        if self._rate_gate is None:
            return 0.0
        return self._rate_gate.acquire(max_wait_seconds=self._max_rate_wait_seconds)

    def _report(
        self,
        endpoint: str,
        status: int | None,
        duration_seconds: float,
        waited_seconds: float,
        error: httpx.RequestError | None = None,
    ) -> None:
        log.debug(
            "certcentral_call",
            endpoint=endpoint,
            status=status,
            duration_ms=round(duration_seconds * 1000, 1),
            rate_wait_ms=round(waited_seconds * 1000, 1),
            error=type(error).__name__ if error is not None else None,
        )
        if self._observer is None:
            return
        try:
            self._observer.observe(endpoint, status, duration_seconds)
        except Exception:
            # Metrics must never turn a call that reached DigiCert into a
            # failure: after a POST that would lose the order's answer.
            log.warning("call_observer_failed", endpoint=endpoint, exc_info=True)

    def _transport_error(
        self,
        error: httpx.RequestError,
        endpoint: str,
        creates: bool,
        alternative_order_id: str | None,
    ) -> ApiTransientError:
        reason = f"{describe_transport_error(error)} ({type(error).__name__})"
        reason = self._redact(reason)
        # Before a connection exists (connect, TLS, waiting for the pool) the
        # request has not left: nothing can have been created.
        never_sent = isinstance(
            error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
        )
        if creates and not never_sent:
            return OutcomeUnknown(
                endpoint,
                None,
                [],
                reason=reason,
                alternative_order_id=alternative_order_id,
            )
        return ApiTransientError(endpoint, None, [], reason=reason)

    def _answer_error(
        self,
        response: httpx.Response,
        endpoint: str,
        creates: bool,
        alternative_order_id: str | None,
    ) -> ApiPermanentError | ApiTransientError:
        status = response.status_code
        errors = [
            ApiErrorDetail(self._redact(e.code), self._redact(e.message))
            for e in error_details(response)
        ]

        if status == 429:
            return RateLimited(
                endpoint,
                status,
                errors,
                retry_after_seconds=parse_retry_after(
                    response.headers.get("Retry-After"), datetime.now(UTC)
                ),
            )
        if status >= 500 and creates:
            return OutcomeUnknown(
                endpoint,
                status,
                errors,
                reason=answer_summary(response, errors),
                alternative_order_id=alternative_order_id,
            )
        if status >= 500 or status == 408:
            return ApiTransientError(
                endpoint, status, errors, reason=answer_summary(response, errors)
            )
        return permanent_error(endpoint, status, errors)

    def _created(
        self,
        response: httpx.Response,
        endpoint: str,
        alternative_order_id: str | None,
    ) -> OrderCreated:
        """Read a 2xx order answer; one that cannot be read leaves the order unknown."""
        try:
            return OrderCreated.from_json(json_object(response))
        except ResponseShapeError as error:
            raise OutcomeUnknown(
                endpoint,
                response.status_code,
                [],
                reason=f"unreadable answer: {self._redact(str(error))}",
                alternative_order_id=alternative_order_id,
            ) from error

    def _read(
        self,
        response: httpx.Response,
        endpoint: str,
        parse: Callable[[Mapping[str, Any]], T],
    ) -> T:
        """Parse a 2xx JSON answer.

        A body that is not JSON at all is more likely a proxy's page than
        DigiCert's answer, so it may pass; JSON of the wrong shape will not.
        """
        try:
            body = json_object(response)
        except ResponseShapeError as error:
            raise ApiTransientError(
                endpoint,
                response.status_code,
                [],
                reason=f"{error} ({answer_summary(response, [])})",
            ) from error
        try:
            return parse(body)
        except ResponseShapeError as error:
            raise UnexpectedResponse(
                endpoint, response.status_code, self._redact(str(error))
            ) from error

    def _redact(self, text: str) -> str:
        """The text with the API key blanked, should an answer ever echo it."""
        return text.replace(self._key, "[api key]")
