"""The Kubernetes inventory: ``kubernetes.io/tls`` Secrets in chosen namespaces.

Per certificate Secret ``NS/NAME`` (the entry's name)::

    NS/NAME                      type kubernetes.io/tls, label-selected: the
                                 live pair, tls.crt (leaf first, then the
                                 chain) and tls.key; settings in annotations
    NS/NAME-certrenew-pending    type Opaque, tls.key: the next key, stored
                                 before its CSR leaves the process
    NS/NAME-certrenew-previous   type Opaque, tls.crt and tls.key: the pair
                                 the last renewal replaced

Both helper Secrets carry an owner reference to the certificate Secret, so
Kubernetes deletes them with it.

Settings come from annotations on the certificate Secret, over the
configuration's defaults and ``[overrides."NS/NAME"]``:

    certrenew.io/order.<field>   an [order] setting, e.g. organization_id
    certrenew.io/policy.<field>  a [policy] setting, e.g. floor_days
    certrenew.io/label.<name>    a label for metrics and alerts, e.g. team

Annotation values are strings; numbers and booleans are read from them, and a
value starting with ``[`` or ``{`` is read as JSON (lists, contacts). Any
other ``certrenew.io/`` annotation is an error, so a typo never goes unseen.

Installation is one replace of the certificate Secret carrying the
resourceVersion it was read at (read, modify, replace). If anyone changed the
Secret in between, Kubernetes answers 409 Conflict and nothing is
overwritten: the install fails with ``SecretChangedError``.

Every call to the API server goes through ``_calling``, which translates the
client's exceptions into certrenew's, keeping the cause.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from pydantic import ValidationError

from certrenew.config import (
    KubernetesSourceSettings,
    OrderSettings,
    PolicySettings,
    Settings,
)
from certrenew.errors import ConfigError, InventoryError, TransientError
from certrenew.inventory.entry import (
    CertificateFacts,
    Entry,
    Installed,
    Problem,
)
from certrenew.inventory.facts import (
    is_certificate_authority,
    key_matches_certificate,
    read_facts,
)
from certrenew.inventory.pem import parse_certificates, parse_private_key

log = structlog.get_logger(__name__)

TLS_SECRET_TYPE = "kubernetes.io/tls"  # noqa: S105 - a Secret type, not a password
CERTIFICATE_KEY = "tls.crt"
PRIVATE_KEY_KEY = "tls.key"

ANNOTATION_PREFIX = "certrenew.io/"
ORDER_PREFIX = "certrenew.io/order."
POLICY_PREFIX = "certrenew.io/policy."
LABEL_PREFIX = "certrenew.io/label."

PENDING_SUFFIX = "-certrenew-pending"
PREVIOUS_SUFFIX = "-certrenew-previous"
PENDING_FOR = "certrenew.io/pending-for"
PREVIOUS_OF = "certrenew.io/previous-of"
PREVIOUS_THUMBPRINT = "certrenew.io/previous-thumbprint"
CLEARED = "certrenew.io/cleared"
CLEARED_REASON = "installed; the key now lives in the certificate Secret"

# One page of a list; a scan holds one page of Secrets at a time.
PAGE_SIZE = 250
REQUEST_TIMEOUT_SECONDS = 30.0
# Label values are at most 63 characters (Kubernetes object names, labels).
MAX_LABEL_VALUE_LENGTH = 63


class SecretChangedError(InventoryError):
    """The Secret changed between our read and our write; nothing was written."""


@dataclass(frozen=True)
class _Secret:
    """A Secret as read, with the fields certrenew uses made non-optional."""

    namespace: str
    name: str
    uid: str
    resource_version: str
    type: str
    annotations: dict[str, str]
    # Values base64-encoded, as the API serves them.
    data: dict[str, str]
    # The object as the API served it, the base of a replace.
    read: k8s.V1Secret = field(repr=False, compare=False)

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"


class KubernetesSource:
    """An InventorySource over the TLS Secrets of some namespaces."""

    def __init__(
        self,
        source: KubernetesSourceSettings,
        settings: Settings,
        *,
        api_client: k8s.ApiClient | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.source = source
        self.settings = settings
        self.page_size = page_size
        self.api = k8s.CoreV1Api(api_client or _api_client(source.kubeconfig))

    @property
    def label(self) -> str:
        return "kubernetes:" + ",".join(self.source.namespaces)

    # Reading

    def scan(self) -> Iterator[Entry | Problem]:
        for namespace in self.source.namespaces:
            try:
                for secret in self._list(namespace):
                    yield self._entry_or_problem(secret)
            except (InventoryError, TransientError) as error:
                # RBAC or an unreachable API server: this namespace only.
                yield Problem(self.label, f"namespace {namespace}", str(error))

    def load(self, name: str) -> Entry:
        secret = self._require(*_split(name))
        if secret.type != TLS_SECRET_TYPE:
            raise InventoryError(
                f"{name}: is a Secret of type {secret.type!r}, not {TLS_SECRET_TYPE}"
            )
        return self._entry(secret)

    def _list(self, namespace: str) -> Iterator[_Secret]:
        token: str | None = None
        while True:
            with _calling("list", namespace, None):
                page = self.api.list_namespaced_secret(
                    namespace,
                    label_selector=self.source.label_selector or None,
                    field_selector=f"type={TLS_SECRET_TYPE}",
                    limit=self.page_size,
                    _continue=token,
                    _request_timeout=REQUEST_TIMEOUT_SECONDS,
                )
            for item in page.items:
                secret = _secret_from(item)
                if self._selected(secret):
                    yield secret
            token = page.metadata.var_continue if page.metadata else None
            if not token:
                return

    def _selected(self, secret: _Secret) -> bool:
        if self.source.annotation is None:
            return True
        return self.source.annotation in secret.annotations

    def _entry_or_problem(self, secret: _Secret) -> Entry | Problem:
        try:
            return self._entry(secret)
        except InventoryError as error:
            log.info("secret_skipped", secret=secret.full_name, reason=str(error))
            return Problem(self.label, secret.full_name, str(error))

    def _entry(self, secret: _Secret) -> Entry:
        """The entry of one TLS Secret; InventoryError naming the Secret, the
        key or annotation, and the rule, when it cannot be used."""
        name = secret.full_name
        chain_pem = _decoded(secret, CERTIFICATE_KEY)
        key_pem = _decoded(secret, PRIVATE_KEY_KEY)

        leaf, facts = _facts_from_pem(chain_pem, f"{name}: {CERTIFICATE_KEY}")
        key = _private_key(key_pem, f"{name}: {PRIVATE_KEY_KEY}")
        if not key_matches_certificate(key, leaf):
            raise InventoryError(
                f"{name}: {PRIVATE_KEY_KEY}: key does not match the certificate "
                f"in {CERTIFICATE_KEY} (thumbprint {facts.thumbprint}): the "
                "public keys differ"
            )

        order, policy, labels = self._settings_for(name, secret.annotations)
        return Entry(
            name=name,
            source=self.label,
            location=f"{name}:{CERTIFICATE_KEY}",
            key_location=f"{name}:{PRIVATE_KEY_KEY}",
            facts=facts,
            order=order,
            policy=policy,
            labels=labels,
        )

    def _settings_for(
        self, name: str, annotations: Mapping[str, str]
    ) -> tuple[OrderSettings, PolicySettings, dict[str, str]]:
        order: dict[str, Any] = {}
        policy: dict[str, Any] = {}
        labels: dict[str, str] = {}
        for annotation, value in sorted(annotations.items()):
            if annotation.startswith(ORDER_PREFIX):
                order[annotation.removeprefix(ORDER_PREFIX)] = _value(value)
            elif annotation.startswith(POLICY_PREFIX):
                policy[annotation.removeprefix(POLICY_PREFIX)] = _value(value)
            elif annotation.startswith(LABEL_PREFIX):
                labels[annotation.removeprefix(LABEL_PREFIX)] = value
            elif (
                annotation.startswith(ANNOTATION_PREFIX)
                and annotation != self.source.annotation
            ):
                raise InventoryError(
                    f"{name}: annotation {annotation}: unknown certrenew "
                    f"annotation; use {ORDER_PREFIX}<field>, "
                    f"{POLICY_PREFIX}<field> or {LABEL_PREFIX}<name>"
                )

        try:
            return (
                self.settings.order_for(name, order),
                self.settings.policy_for(name, policy),
                labels,
            )
        except ValidationError as error:
            prefix = ORDER_PREFIX if error.title == "OrderSettings" else POLICY_PREFIX
            given = order if prefix == ORDER_PREFIX else policy
            raise InventoryError(
                _describe_settings_error(name, error, prefix, given)
            ) from error

    # Writing

    def store_pending_key(self, name: str, key_pem: bytes) -> str:
        namespace, secret_name = _split(name)
        owner = self._require(namespace, secret_name)
        pending_name = f"{secret_name}{PENDING_SUFFIX}"
        body = _helper_secret(
            owner, pending_name, PENDING_FOR, {PRIVATE_KEY_KEY: key_pem}
        )
        self._create_or_replace(namespace, pending_name, body, PENDING_FOR, name)
        log.info("pending_key_stored", certificate=name, secret=pending_name)
        return f"{namespace}/{pending_name}:{PRIVATE_KEY_KEY}"

    def load_pending_key(self, name: str) -> bytes | None:
        namespace, secret_name = _split(name)
        pending = self._read(namespace, f"{secret_name}{PENDING_SUFFIX}")
        if pending is None or PRIVATE_KEY_KEY not in pending.data:
            return None
        return _decoded(pending, PRIVATE_KEY_KEY)

    def install(self, name: str, chain_pem: bytes, key_pem: bytes) -> Installed:
        """Replace tls.crt (leaf and chain) and tls.key of the Secret in one
        write carrying the resourceVersion read, after keeping the pair it
        replaces; then retire the pending key.

        The previous pair is written first, so the old pair is stored before
        it stops being live. If the write then meets a 409, the other writer's
        change stands: SecretChangedError, and a person decides. An install
        that finds the new pair already live (a retry after a crash) skips
        the write and only retires the pending key.
        """
        namespace, secret_name = _split(name)
        chain_pem = chain_pem.replace(b"\r\n", b"\n")
        _check_pair(name, chain_pem, key_pem)
        secret = self._require(namespace, secret_name)
        if secret.type != TLS_SECRET_TYPE:
            raise InventoryError(
                f"{name}: cannot install: the Secret is of type {secret.type!r}, "
                f"not {TLS_SECRET_TYPE}"
            )

        new_pair = {
            CERTIFICATE_KEY: _encode(chain_pem),
            PRIVATE_KEY_KEY: _encode(key_pem),
        }
        previous_name = f"{secret_name}{PREVIOUS_SUFFIX}"
        keep = self.settings.install.keep_previous > 0
        if all(secret.data.get(key) == value for key, value in new_pair.items()):
            log.info("certificate_already_installed", certificate=name)
        else:
            if keep:
                self._keep_previous(secret, previous_name)
            self._replace_pair(secret, new_pair)
            log.info("certificate_installed", certificate=name)

        self._retire_pending_key(namespace, f"{secret_name}{PENDING_SUFFIX}")
        kept = keep and self._read(namespace, previous_name) is not None
        previous = f"{namespace}/{previous_name}"
        return Installed(
            certificate_location=f"{name}:{CERTIFICATE_KEY}",
            key_location=f"{name}:{PRIVATE_KEY_KEY}",
            previous_certificate_location=(
                f"{previous}:{CERTIFICATE_KEY}" if kept else None
            ),
            previous_key_location=f"{previous}:{PRIVATE_KEY_KEY}" if kept else None,
        )

    def _keep_previous(self, secret: _Secret, previous_name: str) -> None:
        pair = {
            key: _decoded(secret, key)
            for key in (CERTIFICATE_KEY, PRIVATE_KEY_KEY)
            if key in secret.data
        }
        annotations = {}
        thumbprint = _thumbprint_or_none(pair.get(CERTIFICATE_KEY, b""))
        if thumbprint is not None:
            annotations[PREVIOUS_THUMBPRINT] = thumbprint
        body = _helper_secret(secret, previous_name, PREVIOUS_OF, pair, annotations)
        self._create_or_replace(
            secret.namespace, previous_name, body, PREVIOUS_OF, secret.full_name
        )

    def _replace_pair(self, secret: _Secret, pair: Mapping[str, str]) -> None:
        # The object as read, resourceVersion included, with the new pair: the
        # API server refuses the write with 409 if the Secret changed since
        # (optimistic concurrency; other keys and metadata are kept as read).
        body = _body(secret, data={**secret.data, **pair})
        try:
            with _calling("update", secret.namespace, secret.name):
                self.api.replace_namespaced_secret(
                    secret.name,
                    secret.namespace,
                    body,
                    _request_timeout=REQUEST_TIMEOUT_SECONDS,
                )
        except _Conflict as conflict:
            log.warning(
                "install_conflict",
                certificate=secret.full_name,
                resource_version=secret.resource_version,
            )
            raise SecretChangedError(
                f"{secret.full_name}: cannot install: someone else changed the "
                "Secret after certrenew read it (resourceVersion "
                f"{secret.resource_version}); nothing was overwritten. Check the "
                "Secret's tls.crt and tls.key, then retry the install."
            ) from conflict.__cause__

    def _retire_pending_key(self, namespace: str, pending_name: str) -> None:
        """Delete the pending key's Secret; where RBAC grants no delete (the
        shipped Roles do not, so certrenew cannot delete arbitrary Secrets),
        empty it instead: it holds no key afterwards."""
        try:
            with _calling("delete", namespace, pending_name):
                self.api.delete_namespaced_secret(
                    pending_name, namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
                )
        except _Forbidden:
            self._clear_pending_key(namespace, pending_name)
        except _NotFound:
            return
        else:
            log.info("pending_key_deleted", secret=f"{namespace}/{pending_name}")

    def _clear_pending_key(self, namespace: str, pending_name: str) -> None:
        pending = self._read(namespace, pending_name)
        if pending is None:
            return
        annotations = {**pending.annotations, CLEARED: CLEARED_REASON}
        body = _body(pending, data={}, annotations=annotations)
        with _calling("update", namespace, pending_name):
            self.api.replace_namespaced_secret(
                pending_name,
                namespace,
                body,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        log.info("pending_key_cleared", secret=f"{namespace}/{pending_name}")

    def _create_or_replace(
        self,
        namespace: str,
        secret_name: str,
        body: k8s.V1Secret,
        owner_annotation: str,
        owner: str,
    ) -> None:
        """Create a helper Secret, or replace the one certrenew made before."""
        try:
            with _calling("create", namespace, secret_name):
                self.api.create_namespaced_secret(
                    namespace, body, _request_timeout=REQUEST_TIMEOUT_SECONDS
                )
        except _Conflict:
            existing = self._require(namespace, secret_name)
            if existing.annotations.get(owner_annotation) != owner:
                raise InventoryError(
                    f"{namespace}/{secret_name}: a Secret of that name exists and "
                    f"is not certrenew's (annotation {owner_annotation} is not "
                    f"{owner!r}); rename or remove it"
                ) from None
            assert body.metadata is not None  # noqa: S101 - _helper_secret sets it
            body.metadata.resource_version = existing.resource_version
            with _calling("update", namespace, secret_name):
                self.api.replace_namespaced_secret(
                    secret_name,
                    namespace,
                    body,
                    _request_timeout=REQUEST_TIMEOUT_SECONDS,
                )

    # Reading one Secret

    def _read(self, namespace: str, secret_name: str) -> _Secret | None:
        try:
            with _calling("get", namespace, secret_name):
                secret = self.api.read_namespaced_secret(
                    secret_name, namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
                )
        except _NotFound:
            return None
        return _secret_from(secret)

    def _require(self, namespace: str, secret_name: str) -> _Secret:
        secret = self._read(namespace, secret_name)
        if secret is None:
            raise InventoryError(f"{self.label}: no Secret {namespace}/{secret_name}")
        return secret


# Talking to the API server


class _Conflict(InventoryError):
    """409 from the API server: stale resourceVersion, or the name is taken."""


class _Forbidden(InventoryError):
    """403 from the API server: RBAC does not allow the verb."""


class _NotFound(InventoryError):
    """404 from the API server."""


@contextmanager
def _calling(verb: str, namespace: str, name: str | None) -> Iterator[None]:
    """Translate the client's exceptions for one call into certrenew's."""
    try:
        yield
    except ApiException as error:
        raise _translate(error, verb, namespace, name) from error
    except urllib3.exceptions.HTTPError as error:
        raise TransientError(
            f"Kubernetes API server unreachable: {verb} secrets in namespace "
            f"{namespace}: {error}"
        ) from error


def _translate(
    error: ApiException, verb: str, namespace: str, name: str | None
) -> InventoryError | TransientError:
    status = error.status or 0
    message = _status_message(error)
    target = f"{namespace}/{name}" if name else f"namespace {namespace}"
    if status == 403:
        return _Forbidden(
            f"{target}: Kubernetes RBAC forbids {verb} on secrets in namespace "
            f"{namespace} (403): {message}"
        )
    if status == 404:
        return _NotFound(f"{target}: not found (404): {message}")
    if status == 409:
        return _Conflict(f"{target}: conflict (409): {message}")
    if status == 401:
        return InventoryError(
            f"{target}: the Kubernetes API server refused certrenew's credentials "
            f"(401) on {verb}: {message}"
        )
    if status == 429 or status >= 500:
        return TransientError(
            f"{target}: {verb} secrets failed with {status}: {message}",
            retry_after_seconds=_retry_after(error),
        )
    return InventoryError(f"{target}: {verb} secrets failed with {status}: {message}")


def _status_message(error: ApiException) -> str:
    """The message of the Kubernetes Status in the answer, else the reason."""
    try:
        status = json.loads(error.body or "")
    except ValueError:
        return str(error.reason)
    message = status.get("message") if isinstance(status, dict) else None
    return message if isinstance(message, str) else str(error.reason)


def _retry_after(error: ApiException) -> float | None:
    value = (error.headers or {}).get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _api_client(kubeconfig: Path | None) -> k8s.ApiClient:
    """In a pod, its service account; else the kubeconfig (the setting's path,
    $KUBECONFIG or ~/.kube/config), as kubectl would."""
    configuration = k8s.Configuration()
    try:
        if kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]  # the loader is untyped
        else:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]  # the loader is untyped
                config_file=str(kubeconfig) if kubeconfig else None,
                client_configuration=configuration,
            )
    except (ConfigException, OSError) as error:
        where = kubeconfig or "the service account or the default kubeconfig"
        problem = f"inventory kubernetes: cannot load credentials from {where}: {error}"
        raise ConfigError([problem]) from error
    return k8s.ApiClient(configuration)


# Secrets and their contents


def _split(name: str) -> tuple[str, str]:
    namespace, slash, secret_name = name.partition("/")
    if not slash or not namespace or not secret_name or "/" in secret_name:
        raise InventoryError(
            f"kubernetes entry name {name!r} must be NAMESPACE/SECRET_NAME"
        )
    return namespace, secret_name


def _secret_from(secret: k8s.V1Secret) -> _Secret:
    """The fields certrenew uses, at the boundary; the API always sets them."""
    metadata = secret.metadata or k8s.V1ObjectMeta()
    return _Secret(
        namespace=metadata.namespace or "",
        name=metadata.name or "",
        uid=metadata.uid or "",
        resource_version=metadata.resource_version or "",
        type=secret.type or "Opaque",
        annotations=dict(metadata.annotations or {}),
        data={
            key: value.decode("ascii") if isinstance(value, bytes) else value
            for key, value in (secret.data or {}).items()
        },
        read=secret,
    )


def _body(
    secret: _Secret,
    *,
    data: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
) -> k8s.V1Secret:
    """The object as read, with new data: a replace keeps every other field
    (labels, owner references, resourceVersion) as it was read."""
    body = secret.read.model_copy(deep=True)
    body.api_version, body.kind = "v1", "Secret"
    body.data = dict(data)
    if annotations is not None and body.metadata is not None:
        body.metadata.annotations = dict(annotations)
    return body


def _decoded(secret: _Secret, key: str) -> bytes:
    if key not in secret.data:
        raise InventoryError(
            f"{secret.full_name}: {key}: missing from the Secret's data"
        )
    try:
        return base64.b64decode(secret.data[key], validate=True)
    except binascii.Error as error:
        raise InventoryError(
            f"{secret.full_name}: {key}: not valid base64: {error}"
        ) from error


def _encode(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _helper_secret(
    owner: _Secret,
    secret_name: str,
    owner_annotation: str,
    contents: Mapping[str, bytes],
    annotations: Mapping[str, str] | None = None,
) -> k8s.V1Secret:
    """An Opaque Secret beside the certificate Secret, deleted with it."""
    labels = {}
    # A label value is at most 63 characters; the annotation always names it.
    if len(owner.name) <= MAX_LABEL_VALUE_LENGTH:
        labels[owner_annotation] = owner.name
    return k8s.V1Secret(
        api_version="v1",
        kind="Secret",
        type="Opaque",
        metadata=k8s.V1ObjectMeta(
            name=secret_name,
            namespace=owner.namespace,
            labels=labels,
            annotations={owner_annotation: owner.full_name, **(annotations or {})},
            owner_references=[
                k8s.V1OwnerReference(
                    api_version="v1", kind="Secret", name=owner.name, uid=owner.uid
                )
            ],
        ),
        data={key: _encode(value) for key, value in contents.items()},
    )


def _value(text: str) -> Any:
    """An annotation's value: JSON for lists and tables, else the string
    (pydantic reads numbers and booleans from it)."""
    if text.lstrip().startswith(("[", "{")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _describe_settings_error(
    name: str, error: ValidationError, prefix: str, given: Mapping[str, Any]
) -> str:
    problems = []
    for detail in error.errors():
        setting = str(detail["loc"][0]) if detail["loc"] else ""
        rest = ".".join(str(part) for part in detail["loc"][1:])
        message = str(detail["msg"]).removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = "unknown setting (check its spelling)"
        where = f"annotation {prefix}{setting}"
        if setting not in given:
            table = prefix.removeprefix(ANNOTATION_PREFIX).rstrip(".")
            where = f"[overrides.{name!r}.{table}] {setting}"
        inner = f" ({rest})" if rest else ""
        problems.append(f"{where}{inner}: {message} (given: {detail.get('input')!r})")
    return f"{name}: " + "; ".join(problems)


def _check_pair(name: str, chain_pem: bytes, key_pem: bytes) -> None:
    """Refuse a certificate that is not for this key (API.md: a download may
    return another certificate of the order)."""
    try:
        leaf, _ = _facts_from_pem(chain_pem, "the issued chain")
        key = _private_key(key_pem, "the new key")
    except InventoryError as error:
        raise InventoryError(f"{name}: cannot install: {error}") from error
    if not key_matches_certificate(key, leaf):
        raise InventoryError(
            f"{name}: cannot install: the issued certificate does not match the "
            "new key; nothing was changed"
        )


def _thumbprint_or_none(chain_pem: bytes) -> str | None:
    try:
        return _facts_from_pem(chain_pem, "the previous certificate")[1].thumbprint
    except InventoryError:
        return None


def _facts_from_pem(
    chain_pem: bytes, where: str
) -> tuple[x509.Certificate, CertificateFacts]:
    """The leaf (the first certificate: leaf first, chain after) and its facts."""
    try:
        leaf = parse_certificates(chain_pem, where)[0]
    except InventoryError as error:
        raise InventoryError(f"{where}: {error}") from error
    if is_certificate_authority(leaf):
        raise InventoryError(
            f"{where}: the first certificate is a CA certificate; it must be the "
            "leaf, followed by its chain"
        )
    return leaf, read_facts(leaf)


def _private_key(key_pem: bytes, where: str) -> PrivateKeyTypes:
    try:
        return parse_private_key(key_pem, where)
    except InventoryError as error:
        raise InventoryError(f"{where}: {error}") from error
