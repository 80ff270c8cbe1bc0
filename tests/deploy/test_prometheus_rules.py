"""The alert rules: valid for Prometheus, unit-tested, on known metrics only."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.deploy.known_metrics import is_known_metric, metrics_in_promql
from tests.deploy.tools import DEPLOY, require_tool, run_tool

RULES_PATH = DEPLOY / "prometheus" / "certrenew-rules.yaml"
RULES_TEST_PATH = DEPLOY / "prometheus" / "certrenew-rules.test.yaml"
PROMETHEUS_RULE_PATH = (
    DEPLOY / "k8s" / "components" / "prometheus-operator" / "prometheusrule.yaml"
)

# What issue 6 asks operators to be paged for, by alert name.
REQUIRED_ALERTS = {
    "CertrenewRenewalFailed",
    "CertrenewRenewalPendingTooLong",
    "CertrenewCertificateDueNotRenewed",
    "CertrenewCertificateExpiringIn14Days",
    "CertrenewCertificateExpiringIn7Days",
    "CertrenewScanStale",
    "CertrenewNoSchedulerLeader",
    "CertrenewApiKeyRejected",
    "CertrenewDeadLettersWaiting",
    "CertrenewApiRateLimited",
}

CERTIFICATE_LABELS = ("name", "common_name", "source", "team")


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    return [
        rule
        for group in document["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_promtool_accepts_the_rule_file() -> None:
    promtool = require_tool("promtool")

    result = run_tool([promtool, "check", "rules", str(RULES_PATH)])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_rule_unit_tests_pass_under_promtool() -> None:
    promtool = require_tool("promtool")

    result = run_tool(
        [promtool, "test", "rules", RULES_TEST_PATH.name], cwd=RULES_TEST_PATH.parent
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_the_issue_asks_for_is_there() -> None:
    names = {rule["alert"] for rule in _alert_rules()}

    assert names >= REQUIRED_ALERTS, sorted(REQUIRED_ALERTS - names)


@pytest.mark.parametrize("rule", _alert_rules(), ids=lambda rule: rule["alert"])
def test_an_alert_has_a_summary_a_description_a_runbook_and_a_severity(
    rule: dict[str, Any],
) -> None:
    annotations = rule.get("annotations", {})

    for key in ("summary", "description", "runbook"):
        assert annotations.get(key, "").strip(), f"{rule['alert']} lacks {key}"
    assert len(annotations["runbook"].split()) >= 15, (
        f"{rule['alert']}: the runbook should say what to do, not only name it"
    )
    assert rule["labels"]["severity"] in {"warning", "critical"}


@pytest.mark.parametrize("rule", _alert_rules(), ids=lambda rule: rule["alert"])
def test_an_alert_queries_only_metrics_certrenew_exposes(
    rule: dict[str, Any],
) -> None:
    texts = [rule["expr"], *rule.get("annotations", {}).values()]
    queried = set().union(*(metrics_in_promql(text) for text in texts))

    unknown = sorted(name for name in queried if not is_known_metric(name))

    assert queried, f"{rule['alert']} queries no certrenew metric"
    assert unknown == [], f"{rule['alert']} queries unknown metrics {unknown}"


def test_certificate_alerts_keep_the_labels_that_route_them_to_a_team() -> None:
    certificate_rules = [
        rule
        for rule in _alert_rules()
        if "certrenew_certificate_" in rule["expr"]
        and "certrenew_certificates" not in rule["expr"]
    ]

    assert len(certificate_rules) >= 3
    for rule in certificate_rules:
        grouping = f"by ({', '.join(CERTIFICATE_LABELS)})"
        assert grouping in rule["expr"], f"{rule['alert']} drops the team label"


def test_the_prometheus_rule_for_the_operator_carries_the_same_groups() -> None:
    rules = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    prometheus_rule = yaml.safe_load(PROMETHEUS_RULE_PATH.read_text(encoding="utf-8"))

    assert prometheus_rule["spec"] == rules, (
        "prometheusrule.yaml is stale: run "
        ".venv/bin/python deploy/prometheus/to_prometheusrule.py"
    )
