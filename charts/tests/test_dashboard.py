"""The Grafana dashboard only charts metrics the code really exports."""

import json
import re

from conftest import CHART, REPO

DASHBOARD = json.loads((CHART / "files" / "dashboard.json").read_text())
# Where `/metrics` is implemented: the gateway (prometheus-client, prefix "convene", counters
# get `_total`, histograms `_bucket`), the SFU role (plain text), and the operator.
SOURCES = [
    REPO / "crates" / "gateway" / "src" / "metrics.rs",
    REPO / "crates" / "server" / "src" / "sfu_role.rs",
    *sorted((REPO / "operator" / "src").glob("**/*.rs")),
]


def exported_metrics():
    names = set()
    for path in SOURCES:
        text = path.read_text()
        names.update(re.findall(r"\b(convene_[a-z0-9_]+)", text))
        # prometheus-client registrations: registry.register("name", …) under a prefix.
        prefix = re.search(r'Registry::with_prefix\("([a-z_]+)"\)', text)
        if prefix:
            for name in re.findall(r'register(?:_with_unit)?\(\s*"([a-z0-9_]+)"', text):
                names.add(f"{prefix.group(1)}_{name}")
    return names


def queried_metrics():
    exprs = [target["expr"] for panel in DASHBOARD["panels"] for target in panel.get("targets", [])]
    assert exprs
    return {name for expr in exprs for name in re.findall(r"\b(convene_[a-z0-9_]+)\b", expr)}


def test_every_metric_in_the_dashboard_is_exported():
    exported = exported_metrics()
    assert "convene_sfu_rooms" in exported and "convene_http_requests" in exported
    for name in queried_metrics():
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert name in exported or base in exported, f"{name} is not exported by any /metrics"


def test_dashboard_covers_gateway_sfu_and_operator():
    queried = queried_metrics()
    assert {"convene_http_requests_total", "convene_websocket_connections", "convene_sfu_rooms",
            "convene_sfu_participants", "convene_operator_pods", "convene_operator_decisions_total"} <= queried
