"""The Kubernetes manifests: every overlay renders, validates and passes policy.

Offline only: kustomize renders, kubernetes-validate checks the built-in kinds
against the schemas of a current Kubernetes, checkov scans the rendered
objects. The CRD kinds (KEDA, the Prometheus operator) have no schema there;
their structure is checked here by hand.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from certrenew.config import Settings
from tests.deploy.tools import DEPLOY, require_tool, run_tool

K8S = DEPLOY / "k8s"
OVERLAYS = ("small", "production")
KUBERNETES_VERSION = "1.37.0"
CRD_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}
LONGEST_JOB_SECONDS = 5 * 60
# The one writable place in a read-only container: an emptyDir.
SCRATCH_DIRECTORY = "/tmp"  # noqa: S108 - a path inside the pod, not a temp file here

Manifest = dict[str, Any]


def _render(overlay: str) -> str:
    kubectl = require_tool("kubectl")
    result = run_tool([kubectl, "kustomize", str(K8S / "overlays" / overlay)])
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each overlay rendered once, to a file, for the tools to read."""
    folder = tmp_path_factory.mktemp("rendered")
    paths = {}
    for overlay in OVERLAYS:
        path = folder / f"{overlay}.yaml"
        path.write_text(_render(overlay), encoding="utf-8")
        paths[overlay] = path
    return paths


def _objects(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _find(objects: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [
        o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name
    ]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def _pod_specs(objects: list[Manifest]) -> Iterator[tuple[str, Manifest]]:
    for manifest in objects:
        if manifest["kind"] in {"Deployment", "StatefulSet"}:
            yield manifest["metadata"]["name"], manifest["spec"]["template"]["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kustomize_renders_the_overlay_into_namespaced_objects(
    overlay: str, rendered: dict[str, Path]
) -> None:
    objects = _objects(rendered[overlay])

    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "StatefulSet", "NetworkPolicy", "Role"} <= kinds
    for manifest in objects:
        if manifest["kind"] != "Namespace":
            assert manifest["metadata"].get("namespace"), manifest["metadata"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubernetes_validate_accepts_the_rendered_overlay_strictly(
    overlay: str, rendered: dict[str, Path]
) -> None:
    validator = require_tool("kubernetes-validate")

    result = run_tool(
        [
            validator,
            "--strict",
            "--kubernetes-version",
            KUBERNETES_VERSION,
            str(rendered[overlay]),
        ]
    )

    assert result.returncode == 0, result.stdout + result.stderr
    # Only the CRD kinds may go unvalidated, and they are checked below.
    unvalidated = [
        line for line in result.stdout.splitlines() if "Couldn't find schema" in line
    ]
    for line in unvalidated:
        assert any(kind in line for _, kind in CRD_KINDS), line


def test_the_keda_scaled_object_scales_workers_on_the_dramatiq_redis_list(
    rendered: dict[str, Path],
) -> None:
    objects = _objects(rendered["production"])
    scaled = _find(objects, "ScaledObject", "certrenew-worker")
    worker = _find(objects, "Deployment", "certrenew-worker")

    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "certrenew-worker",
    }
    assert scaled["spec"]["minReplicaCount"] >= 1
    assert scaled["spec"]["maxReplicaCount"] > scaled["spec"]["minReplicaCount"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == "dramatiq:certrenew"
    assert trigger["metadata"]["address"] == "certrenew-redis.certrenew.svc:6379"
    assert all(isinstance(v, str) for v in trigger["metadata"].values())
    assert "replicas" not in worker["spec"], "KEDA owns the worker replica count"


def test_the_service_monitors_select_the_services_and_their_named_ports(
    rendered: dict[str, Path],
) -> None:
    objects = _objects(rendered["production"])
    services = [o for o in objects if o["kind"] == "Service"]
    monitors = [o for o in objects if o["kind"] == "ServiceMonitor"]

    assert {m["metadata"]["name"] for m in monitors} == {
        "certrenew-scheduler",
        "certrenew-worker",
    }
    for monitor in monitors:
        selector = monitor["spec"]["selector"]["matchLabels"]
        chosen = [
            s
            for s in services
            if selector.items() <= s["metadata"].get("labels", {}).items()
        ]
        assert chosen, f"{monitor['metadata']['name']} selects no Service"
        port_names = {p["name"] for s in chosen for p in s["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in port_names
            assert endpoint["path"] == "/metrics"


def test_the_prometheus_rule_has_groups_of_alerts_with_expressions(
    rendered: dict[str, Path],
) -> None:
    rule = _find(_objects(rendered["production"]), "PrometheusRule", "certrenew")

    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    groups = rule["spec"]["groups"]
    assert groups
    for group in groups:
        assert set(group) == {"name", "rules"}
        for alert in group["rules"]:
            assert set(alert) <= {"alert", "expr", "for", "labels", "annotations"}
            assert alert["alert"]
            assert alert["expr"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_locked_down(
    overlay: str, rendered: dict[str, Path]
) -> None:
    for workload, pod in _pod_specs(_objects(rendered[overlay])):
        assert pod["securityContext"]["runAsNonRoot"] is True, workload
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, workload
            assert context["readOnlyRootFilesystem"] is True, workload
            assert context["capabilities"]["drop"] == ["ALL"], workload
            assert context["runAsUser"] >= 10000, workload
            assert {"requests", "limits"} <= container["resources"].keys(), workload
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert SCRATCH_DIRECTORY in mounts, f"{workload}: no writable scratch"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_scheduler_runs_twice_with_probes_on_healthz_and_readyz(
    overlay: str, rendered: dict[str, Path]
) -> None:
    scheduler = _find(_objects(rendered[overlay]), "Deployment", "certrenew-scheduler")
    (container,) = scheduler["spec"]["template"]["spec"]["containers"]

    assert scheduler["spec"]["replicas"] == 2
    assert container["args"] == ["scheduler"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def _settings(objects: list[Manifest]) -> Settings:
    """The configuration the pods mount, as certrenew would read it."""
    (config_map,) = [
        o for o in objects if o["kind"] == "ConfigMap" and "certrenew.toml" in o["data"]
    ]
    return Settings.model_validate(tomllib.loads(config_map["data"]["certrenew.toml"]))


def _container_and_environment(
    objects: list[Manifest], deployment: str
) -> tuple[Manifest, dict[str, str]]:
    workload = _find(objects, "Deployment", deployment)
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    environment = {e["name"]: e.get("value", "") for e in container.get("env", [])}
    return container, environment


def _port_number(container: Manifest, port: str | int) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return int(number)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_scheduler_probes_and_port_are_the_ones_it_serves(
    overlay: str, rendered: dict[str, Path]
) -> None:
    objects = _objects(rendered[overlay])
    settings = _settings(objects)
    container, _ = _container_and_environment(objects, "certrenew-scheduler")

    # Reachable from the kubelet and Prometheus, on the port the code listens.
    assert settings.scheduler.http_host == "0.0.0.0"
    assert [p["containerPort"] for p in container["ports"]] == [
        settings.scheduler.http_port
    ]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        port = container[probe]["httpGet"]["port"]
        assert _port_number(container, port) == settings.scheduler.http_port, probe


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_worker_probes_and_scrape_port_are_dramatiqs_metrics_server(
    overlay: str, rendered: dict[str, Path]
) -> None:
    objects = _objects(rendered[overlay])
    settings = _settings(objects)
    container, environment = _container_and_environment(objects, "certrenew-worker")
    service = _find(objects, "Service", "certrenew-worker-metrics")

    metrics_port = settings.worker.metrics_port
    # dramatiq_prom_port, when set, overrides [worker] metrics_port.
    assert environment.get("dramatiq_prom_port", str(metrics_port)) == str(metrics_port)
    assert _port_number(container, "metrics") == metrics_port
    assert environment["dramatiq_prom_host"] == "0.0.0.0"
    # The multi-process folder lives on the writable scratch volume.
    assert environment["dramatiq_prom_db"].startswith(SCRATCH_DIRECTORY + "/")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        check = container[probe]["httpGet"]
        assert check["path"] == "/metrics", probe
        assert _port_number(container, check["port"]) == metrics_port, probe
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == "metrics"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_stopping_worker_gets_longer_than_the_longest_job(
    overlay: str, rendered: dict[str, Path]
) -> None:
    worker = _find(_objects(rendered[overlay]), "Deployment", "certrenew-worker")
    pod = worker["spec"]["template"]["spec"]

    assert pod["terminationGracePeriodSeconds"] > 2 * LONGEST_JOB_SECONDS
    assert pod["containers"][0]["args"] == ["worker"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_key_is_a_mounted_secret_reference_never_a_value(
    overlay: str, rendered: dict[str, Path]
) -> None:
    objects = _objects(rendered[overlay])

    assert not [o for o in objects if o["kind"] == "Secret"]
    for workload, pod in _pod_specs(objects):
        if workload == "certrenew-redis":
            continue
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["api-key"]["secret"]["secretName"] == "certrenew-api-key"
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        assert (
            env["CERTRENEW_CERTCENTRAL__API_KEY_FILE"]["value"]
            == "/var/run/secrets/certrenew/api-key"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secret_access_is_a_role_in_each_configured_namespace_only(
    overlay: str, rendered: dict[str, Path]
) -> None:
    objects = _objects(rendered[overlay])
    config_map = next(
        o for o in objects if o["kind"] == "ConfigMap" and "certrenew.toml" in o["data"]
    )
    config = tomllib.loads(config_map["data"]["certrenew.toml"])
    configured = {
        namespace
        for inventory in config["inventory"]
        if inventory["kind"] == "kubernetes"
        for namespace in inventory["namespaces"]
    }
    roles = [o for o in objects if o["kind"] == "Role"]
    bindings = [o for o in objects if o["kind"] == "RoleBinding"]

    assert not [
        o for o in objects if o["kind"] in {"ClusterRole", "ClusterRoleBinding"}
    ]
    names = {"certrenew-secrets", "certrenew-events"}
    assert {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in roles} == {
        (namespace, name) for namespace in configured for name in names
    }
    assert {b["metadata"]["namespace"] for b in bindings} == configured
    assert len(bindings) == len(roles)
    for role in roles:
        (rule,) = role["rules"]
        if role["metadata"]["name"] == "certrenew-events":
            assert (rule["resources"], rule["verbs"]) == (["events"], ["create"])
            continue
        assert rule["resources"] == ["secrets"]
        assert "delete" not in rule["verbs"]
    for binding in bindings:
        assert binding["roleRef"]["name"] == binding["metadata"]["name"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "certrenew", "namespace": "certrenew"}
        ]


def _policy_exceptions() -> dict[tuple[str, str], str]:
    document = yaml.safe_load(
        (K8S / "policy-exceptions.yaml").read_text(encoding="utf-8")
    )
    return {
        (entry["check"], resource): entry["reason"]
        for entry in document["exceptions"]
        for resource in entry["resources"]
    }


def test_checkov_reports_nothing_that_a_written_exception_does_not_explain(
    rendered: dict[str, Path],
) -> None:
    checkov = require_tool("checkov")
    arguments = [checkov, "--framework", "kubernetes", "--output", "json"]
    for path in rendered.values():
        arguments += ["--file", str(path)]

    # --skip-download: no call to the vendor's API; the scan stays offline.
    result = run_tool([*arguments, "--quiet", "--compact", "--skip-download"])

    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    findings = {
        (failed["check_id"], failed["resource"])
        for one in reports
        for failed in one["results"]["failed_checks"]
    }
    exceptions = _policy_exceptions()
    assert sorted(findings - exceptions.keys()) == []
    assert sorted(exceptions.keys() - findings) == [], "stale policy exceptions"
    assert all(len(reason.split()) >= 10 for reason in exceptions.values())
