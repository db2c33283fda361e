"""deploy/grafana/rta-dashboard.json: it parses, its data source is a variable (no
uid of one Grafana's), and every metric it queries is one the code exposes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from tests.support.deploy import DASHBOARD, dashboard, dashboard_exprs, exposed_metrics


def panels(node: list) -> list:
    out = []
    for p in node:
        out.append(p)
        out += panels(p.get("panels", []))
    return out


def datasource_refs(node: object) -> Iterator[object]:
    """Every ``datasource`` a panel, target or variable names."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "datasource":
                yield v
            else:
                yield from datasource_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from datasource_refs(v)


def test_the_dashboard_parses_and_its_data_source_is_a_variable() -> None:
    dash = dashboard()
    assert json.loads(DASHBOARD.read_text()) == dash
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    refs = list(datasource_refs(dash))
    assert refs and all(r in ("${datasource}", {"type": "prometheus", "uid": "${datasource}"})
                        for r in refs), refs
    for p in panels(dash["panels"]):
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}", p["title"]
            assert p["targets"], p["title"]
    ids = [p["id"] for p in panels(dash["panels"])]
    assert len(ids) == len(set(ids))


def test_every_metric_queried_is_exposed() -> None:
    exposed = exposed_metrics()
    assert {"rta_routed_total", "rta_ready", "rta_http_request_duration_seconds_bucket"} <= exposed
    used: set[str] = set()
    for expr in dashboard_exprs():
        used |= set(re.findall(r"\brta_[a-z0-9_]+", expr))
    assert used - exposed == set(), "queried but not exposed by the code"
    # what the dashboard is for: each of these is on it
    for name in ("rta_routed_total", "rta_applied_total", "rta_deadletter_total",
                 "rta_reducers", "rta_ready", "rta_view_lag_records",
                 "rta_history_lag_records", "rta_history_database_up", "rta_forward_wfm_up",
                 "rta_forward_lag_records", "rta_connector_platform_up",
                 "rta_connector_broker_up", "rta_http_request_duration_seconds_bucket",
                 "rta_event_loop_lag_seconds", "rta_records_in_total", "rta_consumer_lag_records",
                 "rta_status_latency_seconds_bucket", "rta_recovery_seconds",
                 "rta_snapshot_bytes"):
        assert name in used, name
