"""Write the alert rules as a PrometheusRule for the Prometheus operator.

deploy/prometheus/certrenew-rules.yaml is the one source of the rules (what
`promtool` checks and tests); this script wraps its groups into
deploy/k8s/components/prometheus-operator/prometheusrule.yaml. Run it after
every change to the rules:

    .venv/bin/python deploy/prometheus/to_prometheusrule.py

The test suite fails while the two disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent.parent
RULES_PATH = DEPLOY / "prometheus" / "certrenew-rules.yaml"
PROMETHEUS_RULE_PATH = (
    DEPLOY / "k8s" / "components" / "prometheus-operator" / "prometheusrule.yaml"
)

HEADER = """\
# Generated from deploy/prometheus/certrenew-rules.yaml by
# deploy/prometheus/to_prometheusrule.py: edit the rules there, then run it.
"""


class _BlockStyleDumper(yaml.SafeDumper):
    """Writes multi-line strings (PromQL) as literal blocks, as people do."""


def _represent_string(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockStyleDumper.add_representer(str, _represent_string)


def prometheus_rule(groups: dict[str, Any]) -> dict[str, Any]:
    """The PrometheusRule object whose spec is the rule file's groups."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "certrenew",
            "namespace": "certrenew",
            "labels": {
                "app.kubernetes.io/name": "certrenew",
                "app.kubernetes.io/part-of": "certrenew",
            },
        },
        "spec": groups,
    }


def main() -> None:
    groups = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    text = yaml.dump(
        prometheus_rule(groups), Dumper=_BlockStyleDumper, sort_keys=False, width=100
    )
    PROMETHEUS_RULE_PATH.write_text(HEADER + text, encoding="utf-8")


if __name__ == "__main__":
    main()
