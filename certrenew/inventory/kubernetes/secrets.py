"""Secrets as certrenew reads and writes them: names, fields, helpers, parsing."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from kubernetes import client as k8s
from pydantic import ValidationError

from certrenew.errors import InventoryError
from certrenew.inventory.entry import (
    CertificateFacts,
)
from certrenew.inventory.facts import ParsedCertificate, key_matches_certificate
from certrenew.inventory.pem import parse_certificates, parse_private_key

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


@dataclass(frozen=True)
class SecretView:
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


# Secrets and their contents


def split_name(name: str) -> tuple[str, str]:
    namespace, slash, secret_name = name.partition("/")
    if not slash or not namespace or not secret_name or "/" in secret_name:
        raise InventoryError(
            f"kubernetes entry name {name!r} must be NAMESPACE/SECRET_NAME"
        )
    return namespace, secret_name


def secret_from(secret: k8s.V1Secret) -> SecretView:
    """The fields certrenew uses, at the boundary; the API always sets them."""
    metadata = secret.metadata or k8s.V1ObjectMeta()
    return SecretView(
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


def secret_body(
    secret: SecretView,
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


def decoded(secret: SecretView, key: str) -> bytes:
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


def encoded(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def helper_secret(
    owner: SecretView,
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
        data={key: encoded(value) for key, value in contents.items()},
    )


def annotation_value(text: str) -> Any:
    """An annotation's value: JSON for lists and tables, else the string
    (pydantic reads numbers and booleans from it)."""
    if text.lstrip().startswith(("[", "{")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def describe_settings_error(
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


def check_pair(name: str, chain_pem: bytes, key_pem: bytes) -> None:
    """Refuse a certificate that is not for this key (API.md: a download may
    return another certificate of the order)."""
    try:
        leaf, _ = facts_from_pem(chain_pem, "the issued chain")
        key = private_key(key_pem, "the new key")
    except InventoryError as error:
        raise InventoryError(f"{name}: cannot install: {error}") from error
    if not key_matches_certificate(key, leaf.certificate):
        raise InventoryError(
            f"{name}: cannot install: the issued certificate does not match the "
            "new key; nothing was changed"
        )


def thumbprint_or_none(chain_pem: bytes) -> str | None:
    try:
        return facts_from_pem(chain_pem, "the previous certificate")[1].thumbprint
    except InventoryError:
        return None


def facts_from_pem(
    chain_pem: bytes, where: str
) -> tuple[ParsedCertificate, CertificateFacts]:
    """The leaf (the first certificate: leaf first, chain after) and its facts."""
    try:
        leaf = ParsedCertificate(parse_certificates(chain_pem, where)[0])
    except InventoryError as error:
        raise InventoryError(f"{where}: {error}") from error
    if leaf.is_ca:
        raise InventoryError(
            f"{where}: the first certificate is a CA certificate; it must be the "
            "leaf, followed by its chain"
        )
    return leaf, leaf.facts()


def private_key(key_pem: bytes, where: str) -> PrivateKeyTypes:
    try:
        return parse_private_key(key_pem, where)
    except InventoryError as error:
        raise InventoryError(f"{where}: {error}") from error
