"""Shared helpers for the chart's tests: the real Helm SDK (helm-python-sdk) renders the
chart, PyYAML parses what it rendered. See ../shared/TESTING.md ("Helm, without a helm
binary") for why there is no helm binary here."""

import copy
import pathlib

import helm_python
import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "convene"
RELEASE = "demo"
NAMESPACE = "convene"

# The values matrix: each case is a set of overrides on the defaults that a real install
# would use. Every case is linted, rendered, and schema-validated.
TURN_POD_RANGE = "10.244.0.0-10.244.255.255"
CASES = {
    "defaults": {},
    "host-network": {
        "sfuPool": {"exposure": {"mode": "HostNetwork", "udpPort": 7882, "tcpPort": 7881}},
        "ingress": {"enabled": True, "host": "meet.example.com", "tls": {"enabled": True}},
        "turn": {"host": "turn.example.net", "tls": {"enabled": True}},
    },
    "turn-exposure": {
        "sfuPool": {"exposure": {"mode": "Turn", "udpPort": 7882}, "placement": "Packed"},
        "turn": {
            "host": "turn.example.net",
            "exposure": "LoadBalancer",
            "externalIP": "203.0.113.7",
            "relayPorts": {"min": 50000, "max": 50009},
            "allowedPeerIPs": [TURN_POD_RANGE],
            "tls": {"enabled": True},
        },
    },
    "in-chart-databases": {"postgresql": {"enabled": True}, "redis": {"enabled": True},
                           "networkPolicy": {"nodeCidr": "10.0.0.0/16"}},
    "hpa-off": {"gateway": {"autoscaling": {"enabled": False}, "replicas": 3}},
    "service-monitor": {"metrics": {"serviceMonitor": {"enabled": True}}},
    "network-policies-off": {"networkPolicy": {"enabled": False}},
}
# The values files the docs give (kind/k3d, a managed cluster) are cases too.
for _path in sorted((CHART / "ci").glob("*-values.yaml")):
    CASES[_path.name.removesuffix(".yaml")] = yaml.safe_load(_path.read_text())


def merge(base, override):
    """Deep merge of values, as `helm -f` does for maps."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def render(values=None, *, is_upgrade=False):
    """Renders the chart with `values` over its defaults; returns {template: manifest text}."""
    chart = helm_python.Chart.load(str(CHART))
    return chart.render(
        values or {},
        name=RELEASE,
        namespace=NAMESPACE,
        is_install=not is_upgrade,
        is_upgrade=is_upgrade,
    )


def documents(rendered):
    """Every Kubernetes object rendered (NOTES.txt and empty templates left out)."""
    objects = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects.append(document)
    return objects


def find(objects, kind, name=None):
    matches = [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    return matches


def one(objects, kind, name):
    matches = find(objects, kind, name)
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def env_of(container):
    return {entry["name"]: entry for entry in container.get("env", [])}


@pytest.fixture(scope="session")
def rendered_cases():
    """{case: [objects]} for the whole matrix, rendered once per session."""
    return {case: documents(render(values)) for case, values in CASES.items()}


@pytest.fixture(scope="session")
def crd():
    return yaml.safe_load((REPO / "crds" / "sfupool.yaml").read_text())
