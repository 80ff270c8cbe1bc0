"""The Grafana dashboard: valid JSON whose queries use only known metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tests.deploy.known_metrics import is_known_metric, metrics_in_promql
from tests.deploy.tools import DEPLOY

DASHBOARD_PATH = DEPLOY / "grafana" / "certrenew-dashboard.json"


def _load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD_PATH.read_text(encoding="utf-8"))
    return dashboard


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and templating query."""
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield panel.get("title", "?"), target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if variable.get("type") == "query":
            text = query["query"] if isinstance(query, dict) else query
            yield f"variable {variable['name']}", text


def test_the_dashboard_is_a_grafana_dashboard_with_panels() -> None:
    dashboard = _load_dashboard()

    assert dashboard["uid"] == "certrenew"
    assert dashboard["title"]
    assert sum(1 for panel in _panels(dashboard["panels"]) if "targets" in panel) >= 12


def test_every_metric_the_dashboard_queries_is_one_certrenew_exposes() -> None:
    unknown = [
        (where, name)
        for where, expression in _queries(_load_dashboard())
        for name in sorted(metrics_in_promql(expression))
        if not is_known_metric(name)
    ]

    assert unknown == []


def test_every_panel_query_reads_some_certrenew_or_dramatiq_metric() -> None:
    empty = [
        where
        for where, expression in _queries(_load_dashboard())
        if not metrics_in_promql(expression)
    ]

    assert empty == []


def test_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in _panels(_load_dashboard()["panels"])]

    assert len(ids) == len(set(ids))
