"""KubernetesSource: the inventory source over ``kubernetes.io/tls`` Secrets."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from kubernetes import client as k8s
from pydantic import ValidationError

from certrenew.config import (
    KubernetesSourceSettings,
    OrderSettings,
    PolicySettings,
    Settings,
)
from certrenew.errors import InventoryError, TransientError
from certrenew.inventory.entry import (
    CertificateEvent,
    Entry,
    Installed,
    Problem,
)
from certrenew.inventory.facts import (
    key_matches_certificate,
)
from certrenew.inventory.kubernetes.api import (
    Conflict,
    Forbidden,
    NotFound,
    calling,
    connect,
)
from certrenew.inventory.kubernetes.events import event_body
from certrenew.inventory.kubernetes.secrets import (
    ANNOTATION_PREFIX,
    CERTIFICATE_KEY,
    CLEARED,
    CLEARED_REASON,
    LABEL_PREFIX,
    ORDER_PREFIX,
    PAGE_SIZE,
    PENDING_FOR,
    PENDING_SUFFIX,
    POLICY_PREFIX,
    PREVIOUS_OF,
    PREVIOUS_SUFFIX,
    PREVIOUS_THUMBPRINT,
    PRIVATE_KEY_KEY,
    REQUEST_TIMEOUT_SECONDS,
    TLS_SECRET_TYPE,
    SecretView,
    annotation_value,
    check_pair,
    decoded,
    describe_settings_error,
    encoded,
    facts_from_pem,
    helper_secret,
    private_key,
    secret_body,
    secret_from,
    split_name,
    thumbprint_or_none,
)

log = structlog.get_logger(__name__)


class SecretChangedError(InventoryError):
    """The Secret changed between our read and our write; nothing was written."""


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
        self.api = k8s.CoreV1Api(api_client or connect(source.kubeconfig))

    @property
    def label(self) -> str:
        return "kubernetes:" + ",".join(self.source.namespaces)

    def close(self) -> None:
        self.api.api_client.close()

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
        secret = self._require(*split_name(name))
        if secret.type != TLS_SECRET_TYPE:
            raise InventoryError(
                f"{name}: is a Secret of type {secret.type!r}, not {TLS_SECRET_TYPE}"
            )
        return self._entry(secret)

    def _list(self, namespace: str) -> Iterator[SecretView]:
        token: str | None = None
        while True:
            with calling("list", namespace, None):
                page = self.api.list_namespaced_secret(
                    namespace,
                    label_selector=self.source.label_selector or None,
                    field_selector=f"type={TLS_SECRET_TYPE}",
                    limit=self.page_size,
                    _continue=token,
                    _request_timeout=REQUEST_TIMEOUT_SECONDS,
                )
            for item in page.items:
                secret = secret_from(item)
                if self._selected(secret):
                    yield secret
            token = page.metadata.var_continue if page.metadata else None
            if not token:
                return

    def _selected(self, secret: SecretView) -> bool:
        if self.source.annotation is None:
            return True
        return self.source.annotation in secret.annotations

    def _entry_or_problem(self, secret: SecretView) -> Entry | Problem:
        try:
            return self._entry(secret)
        except InventoryError as error:
            log.info("secret_skipped", secret=secret.full_name, reason=str(error))
            return Problem(self.label, secret.full_name, str(error))

    def _entry(self, secret: SecretView) -> Entry:
        """The entry of one TLS Secret; InventoryError naming the Secret, the
        key or annotation, and the rule, when it cannot be used."""
        name = secret.full_name
        chain_pem = decoded(secret, CERTIFICATE_KEY)
        key_pem = decoded(secret, PRIVATE_KEY_KEY)

        leaf, facts = facts_from_pem(chain_pem, f"{name}: {CERTIFICATE_KEY}")
        if not leaf.key_pem_confirmed(key_pem) and not key_matches_certificate(
            private_key(key_pem, f"{name}: {PRIVATE_KEY_KEY}"), leaf.certificate
        ):
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
                order[annotation.removeprefix(ORDER_PREFIX)] = annotation_value(value)
            elif annotation.startswith(POLICY_PREFIX):
                policy[annotation.removeprefix(POLICY_PREFIX)] = annotation_value(value)
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
                describe_settings_error(name, error, prefix, given)
            ) from error

    # Writing

    def store_pending_key(self, name: str, key_pem: bytes) -> str:
        namespace, secret_name = split_name(name)
        owner = self._require(namespace, secret_name)
        pending_name = f"{secret_name}{PENDING_SUFFIX}"
        body = helper_secret(
            owner, pending_name, PENDING_FOR, {PRIVATE_KEY_KEY: key_pem}
        )
        self._create_or_replace(namespace, pending_name, body, PENDING_FOR, name)
        log.info("pending_key_stored", certificate=name, secret=pending_name)
        return f"{namespace}/{pending_name}:{PRIVATE_KEY_KEY}"

    def load_pending_key(self, name: str) -> bytes | None:
        namespace, secret_name = split_name(name)
        pending = self._read(namespace, f"{secret_name}{PENDING_SUFFIX}")
        if pending is None or PRIVATE_KEY_KEY not in pending.data:
            return None
        return decoded(pending, PRIVATE_KEY_KEY)

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
        namespace, secret_name = split_name(name)
        chain_pem = chain_pem.replace(b"\r\n", b"\n")
        check_pair(name, chain_pem, key_pem)
        secret = self._require(namespace, secret_name)
        if secret.type != TLS_SECRET_TYPE:
            raise InventoryError(
                f"{name}: cannot install: the Secret is of type {secret.type!r}, "
                f"not {TLS_SECRET_TYPE}"
            )

        new_pair = {
            CERTIFICATE_KEY: encoded(chain_pem),
            PRIVATE_KEY_KEY: encoded(key_pem),
        }
        previous_name = f"{secret_name}{PREVIOUS_SUFFIX}"
        keep = self.settings.install.keep_previous > 0
        if all(secret.data.get(key) == value for key, value in new_pair.items()):
            log.info("certificate_already_installed", certificate=name)
        else:
            if keep:
                self._keep_previous(secret, previous_name)
            self._replace_pair(secret, new_pair)
            log.info("certificate_secret_written", certificate=name)

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

    def _keep_previous(self, secret: SecretView, previous_name: str) -> None:
        pair = {
            key: decoded(secret, key)
            for key in (CERTIFICATE_KEY, PRIVATE_KEY_KEY)
            if key in secret.data
        }
        annotations = {}
        thumbprint = thumbprint_or_none(pair.get(CERTIFICATE_KEY, b""))
        if thumbprint is not None:
            annotations[PREVIOUS_THUMBPRINT] = thumbprint
        body = helper_secret(secret, previous_name, PREVIOUS_OF, pair, annotations)
        self._create_or_replace(
            secret.namespace, previous_name, body, PREVIOUS_OF, secret.full_name
        )

    def _replace_pair(self, secret: SecretView, pair: Mapping[str, str]) -> None:
        # The object as read, resourceVersion included, with the new pair: the
        # API server refuses the write with 409 if the Secret changed since
        # (optimistic concurrency; other keys and metadata are kept as read).
        body = secret_body(secret, data={**secret.data, **pair})
        try:
            with calling("update", secret.namespace, secret.name):
                self.api.replace_namespaced_secret(
                    secret.name,
                    secret.namespace,
                    body,
                    _request_timeout=REQUEST_TIMEOUT_SECONDS,
                )
        except Conflict as conflict:
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
            with calling("delete", namespace, pending_name):
                self.api.delete_namespaced_secret(
                    pending_name, namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
                )
        except Forbidden:
            self._clear_pending_key(namespace, pending_name)
        except NotFound:
            return
        else:
            log.info("pending_key_deleted", secret=f"{namespace}/{pending_name}")

    def _clear_pending_key(self, namespace: str, pending_name: str) -> None:
        pending = self._read(namespace, pending_name)
        if pending is None:
            return
        annotations = {**pending.annotations, CLEARED: CLEARED_REASON}
        body = secret_body(pending, data={}, annotations=annotations)
        with calling("update", namespace, pending_name):
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
            with calling("create", namespace, secret_name):
                self.api.create_namespaced_secret(
                    namespace, body, _request_timeout=REQUEST_TIMEOUT_SECONDS
                )
        except Conflict:
            existing = self._require(namespace, secret_name)
            if existing.annotations.get(owner_annotation) != owner:
                raise InventoryError(
                    f"{namespace}/{secret_name}: a Secret of that name exists and "
                    f"is not certrenew's (annotation {owner_annotation} is not "
                    f"{owner!r}); rename or remove it"
                ) from None
            assert body.metadata is not None  # noqa: S101 - helper_secret sets it
            body.metadata.resource_version = existing.resource_version
            with calling("update", namespace, secret_name):
                self.api.replace_namespaced_secret(
                    secret_name,
                    namespace,
                    body,
                    _request_timeout=REQUEST_TIMEOUT_SECONDS,
                )

    # Telling people

    def record_event(self, name: str, event: CertificateEvent) -> None:
        """An Event on the certificate's Secret (see events.py).

        Needs ``create`` on ``events`` in the Secret's namespace, as the
        shipped Roles grant (deploy/k8s). Refused or failed, it is logged and
        dropped: the renewal itself has happened either way.
        """
        namespace, secret_name = split_name(name)
        try:
            secret = self._require(namespace, secret_name)
            body = event_body(secret, event, now=datetime.now(UTC))
            with calling("create", namespace, secret_name, resource="events"):
                self.api.create_namespaced_event(
                    namespace, body, _request_timeout=REQUEST_TIMEOUT_SECONDS
                )
        # ValueError and TypeError: the client's own checks of the body.
        except (InventoryError, TransientError, ValueError, TypeError) as error:
            log.warning(
                "kubernetes_event_not_recorded",
                certificate=name,
                event_reason=event.reason,
                error=str(error),
            )

    # Reading one Secret

    def _read(self, namespace: str, secret_name: str) -> SecretView | None:
        try:
            with calling("get", namespace, secret_name):
                secret = self.api.read_namespaced_secret(
                    secret_name, namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
                )
        except NotFound:
            return None
        return secret_from(secret)

    def _require(self, namespace: str, secret_name: str) -> SecretView:
        secret = self._read(namespace, secret_name)
        if secret is None:
            raise InventoryError(f"{self.label}: no Secret {namespace}/{secret_name}")
        return secret


# Talking to the API server
