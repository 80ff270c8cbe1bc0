"""The stand-in API server answers the way Kubernetes does, for the client."""

from __future__ import annotations

import json

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.support.kubernetes_api import KubernetesApiServer


def _opaque(name: str, labels: dict[str, str]) -> k8s.V1Secret:
    return k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name=name, labels=labels),
        type="Opaque",
        data={"a": "YQ=="},
    )


def test_equality_label_selectors_match_as_kubernetes_does(
    api: KubernetesApiServer, api_client: k8s.ApiClient
) -> None:
    core = k8s.CoreV1Api(api_client)
    core.create_namespaced_secret("web", _opaque("a", {"app": "x", "tier": "edge"}))
    core.create_namespaced_secret("web", _opaque("b", {"app": "x"}))
    core.create_namespaced_secret("web", _opaque("c", {"app": "y", "tier": "core"}))

    def names(selector: str) -> list[str]:
        items = core.list_namespaced_secret("web", label_selector=selector).items
        return [str(item.metadata.name) for item in items if item.metadata]

    assert names("app=x") == ["a", "b"]
    assert names("app==x,tier") == ["a"]
    assert names("tier!=core") == ["a", "b"]
    assert names("!tier") == ["b"]
    with pytest.raises(ApiException) as raised:
        names("app in (x)")
    assert raised.value.status == 400


def test_a_stale_resource_version_is_a_409_status(
    api: KubernetesApiServer, api_client: k8s.ApiClient
) -> None:
    core = k8s.CoreV1Api(api_client)
    created = core.create_namespaced_secret("web", _opaque("a", {}))
    core.replace_namespaced_secret("a", "web", created)

    with pytest.raises(ApiException) as raised:
        core.replace_namespaced_secret("a", "web", created)

    status = json.loads(raised.value.body or "")
    assert raised.value.status == 409
    assert status["kind"] == "Status"
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on secrets "a": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )


def test_a_missing_secret_is_a_404_status_and_deleting_an_owner_deletes_dependents(
    api: KubernetesApiServer, api_client: k8s.ApiClient
) -> None:
    core = k8s.CoreV1Api(api_client)
    core.create_namespaced_secret("web", _opaque("owner", {}))
    owner = api.secret("web", "owner")
    assert owner is not None
    reference = k8s.V1OwnerReference(
        api_version="v1", kind="Secret", name="owner", uid=owner["metadata"]["uid"]
    )
    dependent = k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="dependent", owner_references=[reference])
    )
    core.create_namespaced_secret("web", dependent)

    core.delete_namespaced_secret("owner", "web")

    with pytest.raises(ApiException) as raised:
        core.read_namespaced_secret("dependent", "web")
    assert raised.value.status == 404
    assert (
        json.loads(raised.value.body or "")["message"]
        == 'secrets "dependent" not found'
    )


def test_an_event_is_checked_as_the_api_server_checks_one(
    api: KubernetesApiServer, api_client: k8s.ApiClient
) -> None:
    core = k8s.CoreV1Api(api_client)
    stray = k8s.CoreV1Event(
        metadata=k8s.V1ObjectMeta(name="shop.1"),
        involved_object=k8s.V1ObjectReference(
            kind="Secret", name="shop", namespace="db"
        ),
        reason="Renewed",
        type="Fine",
    )

    with pytest.raises(ApiException) as raised:
        core.create_namespaced_event("web", stray)
    stray.involved_object.namespace = "web"
    stray.type = "Normal"
    core.create_namespaced_event("web", stray)

    assert raised.value.status == 422
    assert json.loads(raised.value.body or "{}")["message"] == (
        'Event "shop.1" is invalid: type: Unsupported value: "Fine": supported '
        'values: "Normal", "Warning", involvedObject.namespace: Invalid value: '
        '"db": does not match event.namespace'
    )
    assert [event["reason"] for event in api.events("web")] == ["Renewed"]
