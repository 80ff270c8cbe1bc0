"""Credentials: a kubeconfig file, as kubectl uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certrenew.config import KubernetesSourceSettings, Settings
from certrenew.errors import ConfigError
from certrenew.inventory.entry import Entry
from certrenew.inventory.kubernetes import KubernetesSource
from tests.inventory_k8s.conftest import SmallCA
from tests.support.kubernetes_api import KubernetesApiServer, tls_secret


def _kubeconfig(path: Path, server: str, token: str) -> Path:
    # JSON is YAML: the loader reads either.
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "stand-in", "cluster": {"server": server}}],
                "users": [{"name": "certrenew", "user": {"token": token}}],
                "contexts": [
                    {
                        "name": "stand-in",
                        "context": {"cluster": "stand-in", "user": "certrenew"},
                    }
                ],
                "current-context": "stand-in",
            }
        ),
        encoding="utf-8",
    )
    return path


def test_the_source_connects_with_the_kubeconfig_the_settings_name(
    api: KubernetesApiServer,
    ca: SmallCA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    issued = ca.issue("shop.example.com")
    api.put_secret(
        tls_secret(
            "web",
            "shop",
            issued.chain_pem,
            issued.key_pem,
            labels={"certrenew.io/managed": "true"},
        )
    )
    settings = KubernetesSourceSettings(
        kind="kubernetes",
        namespaces=["web"],
        kubeconfig=_kubeconfig(tmp_path / "config", api.url, api.token),
    )

    (entry,) = KubernetesSource(settings, Settings()).scan()

    assert isinstance(entry, Entry)
    assert entry.name == "web/shop"


def test_a_wrong_token_in_the_kubeconfig_is_a_namespace_problem_saying_401(
    api: KubernetesApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    settings = KubernetesSourceSettings(
        kind="kubernetes",
        namespaces=["web"],
        kubeconfig=_kubeconfig(tmp_path / "config", api.url, "stolen"),
    )

    (problem,) = KubernetesSource(settings, Settings()).scan()

    assert not isinstance(problem, Entry)
    assert problem.error == (
        "namespace web: the Kubernetes API server refused certrenew's "
        "credentials (401) on list: Unauthorized"
    )


def test_a_missing_kubeconfig_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    missing = tmp_path / "nowhere"
    settings = KubernetesSourceSettings(
        kind="kubernetes", namespaces=["web"], kubeconfig=missing
    )

    with pytest.raises(ConfigError) as raised:
        KubernetesSource(settings, Settings())

    assert str(raised.value).startswith(
        f"inventory kubernetes: cannot load credentials from {missing}:"
    )
