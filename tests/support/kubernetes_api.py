"""A small API server that behaves like Kubernetes for core/v1 Secrets.

It serves, over real HTTP on loopback, the calls the Kubernetes inventory
makes, with the answers a real API server gives:

- ``GET    /api/v1/namespaces/NS/secrets`` (list): ``labelSelector`` with
  equality-based terms joined by commas (``a=b``, ``a==b``, ``a!=b``, ``a``,
  ``!a``), ``fieldSelector`` on ``type`` and ``metadata.name`` (``=``, ``==``,
  ``!=``), ``limit`` and ``continue``. Set-based label terms (``in``,
  ``notin``) are not supported and answer 400.
- ``GET``, ``POST`` (create), ``PUT`` (replace) and ``DELETE`` of one Secret.
  Every write gets a new ``resourceVersion``; a replace carrying a stale one
  answers 409 Conflict, a create of an existing name 409 AlreadyExists, a
  missing Secret 404 NotFound, a ``kubernetes.io/tls`` Secret without both
  ``tls.crt`` and ``tls.key`` 422 Invalid, all with a Kubernetes ``Status``
  body. ``PATCH`` and watches are not served (405).
- ``POST /api/v1/namespaces/NS/events``: a core/v1 Event, checked as the
  API server checks one (a name, a reason, type Normal or Warning, an
  involvedObject in the same namespace; 422 Invalid otherwise).
- A bearer token (401 otherwise) and RBAC: a set of allowed (verb, namespace)
  pairs for Secrets, ("create events", namespace) for Events, 403 Forbidden
  with Kubernetes' message otherwise.

Tests seed and inspect Secrets directly (``put_secret``, ``secret``), change
one behind a client's back (``change_secret``), or run such a change just
before the next matching request arrives (``before_next``), to provoke the
race a real cluster has between a read and a write.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.loopback_http import (
    EVERY_METHOD,
    Incoming,
    LoopbackHttpServer,
    send,
)

TOKEN = "stand-in-token"
USER = "system:serviceaccount:certrenew:certrenew"

_COLLECTION = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets$")
_ITEM = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets/([^/]+)$")
_EVENTS = re.compile(r"^/api/v1/namespaces/([^/]+)/events$")

Secret = dict[str, Any]


class _Refused(Exception):
    """An answer other than success: a Kubernetes Status with its code."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        super().__init__(message)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


@dataclass(frozen=True)
class Request:
    """One authorised request, as the server saw it, in arrival order."""

    verb: str
    namespace: str
    name: str | None
    resource: str = "secrets"


class KubernetesApiServer:
    """Secrets by namespace and name, served like a Kubernetes API server."""

    def __init__(self, *, token: str = TOKEN) -> None:
        self.token = token
        # None: every verb in every namespace; else only these pairs.
        self.allowed: set[tuple[str, str]] | None = None
        self.requests: list[Request] = []
        self._secrets: dict[tuple[str, str], Secret] = {}
        self._events: list[dict[str, Any]] = []
        self._resource_version = 100
        self._hooks: list[tuple[Request, Callable[[], None]]] = []
        self._lock = threading.Lock()
        self._http = LoopbackHttpServer(self._respond, methods=EVERY_METHOD)

    @property
    def url(self) -> str:
        return self._http.origin

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()

    # What tests do behind the client's back: no RBAC, no request recorded.

    def allow_only(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Allow just these (verb, namespace) pairs; everything else is 403."""
        self.allowed = set(pairs)

    def put_secret(self, secret: Secret) -> Secret:
        """Store a Secret as an administrator would, creating or replacing it."""
        with self._lock:
            metadata = secret.setdefault("metadata", {})
            key = (metadata["namespace"], metadata["name"])
            existing = self._secrets.get(key)
            uid = existing["metadata"]["uid"] if existing else str(uuid.uuid4())
            return self._store(key, secret, uid)

    def secret(self, namespace: str, name: str) -> Secret | None:
        with self._lock:
            stored = self._secrets.get((namespace, name))
            return deepcopy(stored) if stored is not None else None

    def secret_names(self, namespace: str) -> list[str]:
        with self._lock:
            return sorted(name for ns, name in self._secrets if ns == namespace)

    def change_secret(
        self, namespace: str, name: str, change: Callable[[Secret], None]
    ) -> Secret:
        """Apply ``change`` to a stored Secret as another writer would."""
        with self._lock:
            current = deepcopy(self._secrets[(namespace, name)])
            change(current)
            return self._store((namespace, name), current, current["metadata"]["uid"])

    def before_next(
        self, verb: str, namespace: str, name: str, action: Callable[[], None]
    ) -> None:
        """Run ``action`` once, just before the next matching request is served."""
        with self._lock:
            self._hooks.append((Request(verb, namespace, name), action))

    def writes(self) -> list[Request]:
        """The writes to Secrets, in arrival order (events are not counted)."""
        return [
            r
            for r in self.requests
            if r.resource == "secrets" and r.verb in {"create", "update", "delete"}
        ]

    def events(self, namespace: str) -> list[dict[str, Any]]:
        """The Events created in ``namespace``, oldest first."""
        with self._lock:
            return [
                deepcopy(event)
                for event in self._events
                if event["metadata"]["namespace"] == namespace
            ]

    # Serving

    def _respond(self, incoming: Incoming, handler: BaseHTTPRequestHandler) -> None:
        authorization = incoming.headers.get("authorization") or ""
        token = authorization.removeprefix("Bearer ") if authorization else None
        code, answer = self.handle(
            incoming.method, incoming.target, token, incoming.body
        )

        payload = json.dumps(answer).encode()
        send(handler, code, payload, {"Content-Type": "application/json"})

    def handle(
        self, method: str, target: str, token: str | None, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        if token != self.token:
            return 401, _Refused(401, "Unauthorized", "Unauthorized").status()
        try:
            request, query = _route(method, target)
            self._authorize(request)
            self._run_hooks(request)
            with self._lock:
                self.requests.append(_logged(request, body))
                return self._serve(request, query, body)
        except _Refused as refused:
            return refused.code, refused.status()

    def _run_hooks(self, request: Request) -> None:
        with self._lock:
            due = [hook for hook in self._hooks if hook[0] == request]
            self._hooks = [hook for hook in self._hooks if hook[0] != request]
        for _, action in due:
            action()

    def _authorize(self, request: Request) -> None:
        verb = request.verb
        if request.resource != "secrets":
            verb = f"{request.verb} {request.resource}"
        if self.allowed is None or (verb, request.namespace) in self.allowed:
            return
        resource = request.resource
        subject = resource if request.name is None else f'{resource} "{request.name}"'
        raise _Refused(
            403,
            "Forbidden",
            f'{subject} is forbidden: User "{USER}" cannot {request.verb} '
            f'resource "{resource}" in API group "" in the namespace '
            f'"{request.namespace}"',
            {"name": request.name or "", "kind": resource},
        )

    def _serve(
        self, request: Request, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        if request.resource == "events":
            return 201, self._create_event(request.namespace, _json(body))
        if request.verb == "list":
            return 200, self._list(request.namespace, query)
        if request.verb == "create":
            return 201, self._create(request.namespace, _json(body))
        name = request.name or ""
        key = (request.namespace, name)
        current = self._secrets.get(key)
        if current is None:
            raise _not_found(name)
        if request.verb == "get":
            return 200, deepcopy(current)
        if request.verb == "update":
            return 200, self._replace(key, current, _json(body))
        del self._secrets[key]
        self._collect_garbage(current["metadata"]["uid"])
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": name,
                "kind": "secrets",
                "uid": current["metadata"]["uid"],
            },
        }

    def _collect_garbage(self, owner_uid: str) -> None:
        """Delete the owner's dependents at once, as the garbage collector would."""
        for key, secret in list(self._secrets.items()):
            owners = secret["metadata"].get("ownerReferences") or []
            if any(owner.get("uid") == owner_uid for owner in owners):
                del self._secrets[key]

    def _list(self, namespace: str, query: dict[str, str]) -> dict[str, Any]:
        labels = _label_matcher(query.get("labelSelector", ""))
        fields = _field_matcher(query.get("fieldSelector", ""))
        after = _decode_continue(query.get("continue", ""))
        limit = int(query.get("limit", "0") or "0")

        matching = [
            secret
            for (ns, name), secret in sorted(self._secrets.items())
            if ns == namespace
            and name > after
            and labels(secret["metadata"].get("labels") or {})
            and fields(secret)
        ]
        page = matching[:limit] if limit > 0 else matching
        metadata: dict[str, Any] = {"resourceVersion": str(self._resource_version)}
        if limit > 0 and len(matching) > limit:
            last = page[-1]["metadata"]["name"]
            metadata["continue"] = base64.b64encode(last.encode()).decode()
        return {
            "kind": "SecretList",
            "apiVersion": "v1",
            "metadata": metadata,
            "items": [deepcopy(secret) for secret in page],
        }

    def _create(self, namespace: str, secret: Secret) -> Secret:
        metadata = secret.setdefault("metadata", {})
        name = metadata.get("name", "")
        if metadata.get("namespace", namespace) != namespace:
            raise _Refused(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the "
                "namespace sent on the request",
            )
        if (namespace, name) in self._secrets:
            raise _Refused(
                409,
                "AlreadyExists",
                f'secrets "{name}" already exists',
                {"name": name, "kind": "secrets"},
            )
        metadata["namespace"] = namespace
        _validate(secret)
        return self._store((namespace, name), secret, str(uuid.uuid4()))

    def _create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]:
        metadata = event.setdefault("metadata", {})
        name = metadata.get("name") or ""
        involved = event.get("involvedObject") or {}
        problems = []
        if not name:
            problems.append("metadata.name: Required value")
        if not event.get("reason"):
            problems.append("reason: Required value")
        if event.get("type") not in {"Normal", "Warning"}:
            problems.append(
                f'type: Unsupported value: "{event.get("type")}": supported '
                'values: "Normal", "Warning"'
            )
        involved_namespace = involved.get("namespace")
        if involved_namespace != namespace:
            problems.append(
                f'involvedObject.namespace: Invalid value: "{involved_namespace}": '
                "does not match event.namespace"
            )
        if problems:
            raise _Refused(
                422,
                "Invalid",
                f'Event "{name}" is invalid: {", ".join(problems)}',
                {"name": name, "kind": "Event"},
            )
        self._resource_version += 1
        stored = deepcopy(event)
        stored.update(kind="Event", apiVersion="v1")
        stored["metadata"].update(
            namespace=namespace,
            uid=str(uuid.uuid4()),
            resourceVersion=str(self._resource_version),
        )
        self._events.append(stored)
        return deepcopy(stored)

    def _replace(self, key: tuple[str, str], current: Secret, secret: Secret) -> Secret:
        name = key[1]
        given = secret.get("metadata", {}).get("resourceVersion")
        # An update without a resourceVersion is unconditional, as for every
        # core object; with one, it must be the stored one (optimistic locking).
        if given and given != current["metadata"]["resourceVersion"]:
            raise _Refused(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on secrets "{name}": the object '
                "has been modified; please apply your changes to the latest "
                "version and try again",
                {"name": name, "kind": "secrets"},
            )
        if secret.get("type", "Opaque") != current.get("type", "Opaque"):
            raise _invalid(name, "type", "field is immutable")
        secret.setdefault("metadata", {})["namespace"] = key[0]
        _validate(secret)
        return self._store(key, secret, current["metadata"]["uid"])

    def _store(self, key: tuple[str, str], secret: Secret, uid: str) -> Secret:
        self._resource_version += 1
        stored = deepcopy(secret)
        stored["kind"] = "Secret"
        stored["apiVersion"] = "v1"
        stored.setdefault("type", "Opaque")
        metadata = stored["metadata"]
        metadata.update(
            name=key[1],
            namespace=key[0],
            uid=uid,
            resourceVersion=str(self._resource_version),
        )
        metadata.setdefault(
            "creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        self._secrets[key] = stored
        return deepcopy(stored)


@contextmanager
def running_kubernetes_api() -> Iterator[KubernetesApiServer]:
    server = KubernetesApiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def tls_secret(
    namespace: str,
    name: str,
    certificate_pem: bytes,
    key_pem: bytes,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    secret_type: str = "kubernetes.io/tls",  # noqa: S107 - a Secret type
) -> Secret:
    """A Secret as ``kubectl create secret tls`` makes it, plus metadata."""
    return {
        "metadata": {
            "namespace": namespace,
            "name": name,
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
        },
        "type": secret_type,
        "data": {
            "tls.crt": base64.b64encode(certificate_pem).decode(),
            "tls.key": base64.b64encode(key_pem).decode(),
        },
    }


def decoded(secret: Secret, key: str) -> bytes:
    return base64.b64decode(secret["data"][key])


# Routing and selectors


def _route(method: str, target: str) -> tuple[Request, dict[str, str]]:
    parts = urlsplit(target)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    collection = _COLLECTION.match(parts.path)
    item = _ITEM.match(parts.path)
    events = _EVENTS.match(parts.path)
    if events and method == "POST":
        return Request("create", events.group(1), None, "events"), query
    if collection and method == "GET":
        if query.get("watch") in {"true", "1"}:
            raise _Refused(405, "MethodNotAllowed", "watch is not served here")
        return Request("list", collection.group(1), None), query
    if collection and method == "POST":
        return Request("create", collection.group(1), None), query
    verbs = {"GET": "get", "PUT": "update", "DELETE": "delete"}
    if item and method in verbs:
        return Request(verbs[method], item.group(1), item.group(2)), query
    if item or collection:
        raise _Refused(
            405, "MethodNotAllowed", f"{method} is not served by this stand-in"
        )
    raise _Refused(404, "NotFound", "the server could not find the requested resource")


def _label_matcher(selector: str) -> Callable[[dict[str, str]], bool]:
    terms: list[Callable[[dict[str, str]], bool]] = []
    for raw in filter(None, (term.strip() for term in selector.split(","))):
        if re.search(r"\s(in|notin)\s*\(", raw):
            raise _Refused(
                400,
                "BadRequest",
                f"unable to parse requirement: set-based selector {raw!r} is not "
                "supported by this stand-in",
            )
        terms.append(_label_term(raw))
    return lambda labels: all(term(labels) for term in terms)


def _label_term(term: str) -> Callable[[dict[str, str]], bool]:
    if "!=" in term:
        key, value = (part.strip() for part in term.split("!=", 1))
        return lambda labels: labels.get(key) != value
    if "=" in term:
        key, value = (part.strip() for part in re.split(r"==?", term, maxsplit=1))
        return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        return lambda labels: term[1:] not in labels
    return lambda labels: term in labels


def _field_matcher(selector: str) -> Callable[[Secret], bool]:
    fields: dict[str, Callable[[Secret], str]] = {
        "type": lambda secret: str(secret.get("type", "")),
        "metadata.name": lambda secret: str(secret["metadata"]["name"]),
    }
    terms: list[Callable[[Secret], bool]] = []
    for raw in filter(None, (term.strip() for term in selector.split(","))):
        negate = "!=" in raw
        field, value = re.split(r"!=|==?", raw, maxsplit=1)
        if field not in fields:
            raise _Refused(
                400,
                "BadRequest",
                f'"{field}" is not a known field selector: only "type", '
                '"metadata.name"',
            )
        terms.append(_field_term(fields[field], value, negate=negate))
    return lambda secret: all(term(secret) for term in terms)


def _field_term(
    read: Callable[[Secret], str], value: str, *, negate: bool
) -> Callable[[Secret], bool]:
    return lambda secret: (read(secret) == value) != negate


def _logged(request: Request, body: bytes) -> Request:
    """The request as logged: a create names the object its body names."""
    if request.verb != "create":
        return request
    try:
        name = json.loads(body)["metadata"]["name"]
    except (ValueError, KeyError, TypeError):
        return request
    return Request(request.verb, request.namespace, str(name), request.resource)


def _decode_continue(token: str) -> str:
    return base64.b64decode(token).decode() if token else ""


def _validate(secret: Secret) -> None:
    name = secret["metadata"].get("name", "")
    data = secret.get("data") or {}
    for key, value in data.items():
        try:
            base64.b64decode(value, validate=True)
        except ValueError:
            raise _invalid(name, f"data[{key}]", "illegal base64 data") from None
    if secret.get("type") == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                raise _invalid(name, f"data[{key}]", "Required value")


def _invalid(name: str, field: str, message: str) -> _Refused:
    return _Refused(
        422,
        "Invalid",
        f'Secret "{name}" is invalid: {field}: {message}',
        {"name": name, "kind": "Secret"},
    )


def _not_found(name: str) -> _Refused:
    return _Refused(
        404,
        "NotFound",
        f'secrets "{name}" not found',
        {"name": name, "kind": "secrets"},
    )


def _json(body: bytes) -> Secret:
    try:
        value = json.loads(body)
    except ValueError:
        raise _Refused(400, "BadRequest", "the request body is not JSON") from None
    if not isinstance(value, dict):
        raise _Refused(400, "BadRequest", "the request body is not an object")
    return value
