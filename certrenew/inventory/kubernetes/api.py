"""Calls to the Kubernetes API server: credentials, and its errors translated."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from certrenew.errors import ConfigError, InventoryError, TransientError


class Conflict(InventoryError):
    """409 from the API server: stale resourceVersion, or the name is taken."""


class Forbidden(InventoryError):
    """403 from the API server: RBAC does not allow the verb."""


class NotFound(InventoryError):
    """404 from the API server."""


@contextmanager
def calling(
    verb: str, namespace: str, name: str | None, resource: str = "secrets"
) -> Iterator[None]:
    """Translate the client's exceptions for one call into certrenew's."""
    try:
        yield
    except ApiException as error:
        raise _translate(error, verb, resource, namespace, name) from error
    except urllib3.exceptions.HTTPError as error:
        raise TransientError(
            f"Kubernetes API server unreachable: {verb} {resource} in namespace "
            f"{namespace}: {error}"
        ) from error


def _translate(
    error: ApiException, verb: str, resource: str, namespace: str, name: str | None
) -> InventoryError | TransientError:
    status = error.status or 0
    message = _status_message(error)
    target = f"{namespace}/{name}" if name else f"namespace {namespace}"
    if status == 403:
        return Forbidden(
            f"{target}: Kubernetes RBAC forbids {verb} on {resource} in namespace "
            f"{namespace} (403): {message}"
        )
    if status == 404:
        return NotFound(f"{target}: not found (404): {message}")
    if status == 409:
        return Conflict(f"{target}: conflict (409): {message}")
    if status == 401:
        return InventoryError(
            f"{target}: the Kubernetes API server refused certrenew's credentials "
            f"(401) on {verb}: {message}"
        )
    if status == 429 or status >= 500:
        return TransientError(
            f"{target}: {verb} {resource} failed with {status}: {message}",
            retry_after_seconds=_retry_after(error),
        )
    return InventoryError(
        f"{target}: {verb} {resource} failed with {status}: {message}"
    )


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


def connect(kubeconfig: Path | None) -> k8s.ApiClient:
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
