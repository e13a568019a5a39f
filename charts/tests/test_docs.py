"""The object names docs/operations.md and NOTES.txt tell people to type exist when the
release is called `convene`, as in the docs."""

import re

import helm_python

from conftest import CHART, REPO, documents

OPERATIONS = (REPO / "docs" / "operations.md").read_text()


def rendered_as_convene(values=None):
    chart = helm_python.Chart.load(str(CHART))
    return documents(chart.render(values or {}, name="convene", namespace="convene", is_install=True))


def test_names_in_the_operations_guide_exist():
    objects = rendered_as_convene({"postgresql": {"enabled": True}})
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    mentioned = {
        ("Service", name) for name in re.findall(r"svc/([a-z0-9-]+)", OPERATIONS)
    } | {
        ("Job", name) for name in re.findall(r"job/([a-z0-9-]+)", OPERATIONS)
    } | {
        ("Deployment", name) for name in re.findall(r"deploy/([a-z0-9-]+)", OPERATIONS)
    } | {
        ("Secret", name) for name in re.findall(r"get secret ([a-z0-9-]+)", OPERATIONS)
    }
    assert mentioned, "the guide names no objects"
    assert mentioned <= names, mentioned - names


def test_guide_covers_what_operators_need():
    section = OPERATIONS.split("## Kubernetes", 1)[1]
    for heading in ("### Trying it on kind or k3d", "### Production on a managed cluster", "### Sizing",
                    "### Scaling", "### Draining an SFU pod", "### Upgrades", "### Backups",
                    "### Troubleshooting", "### Ingress and WebSockets"):
        assert heading in section
    for command in ("kubectl -n convene get sfp", "kubectl -n convene scale sfupool main --replicas=8",
                    "convene.dev/drain=true", "kubectl apply --server-side -f charts/convene/crds/sfupool.yaml",
                    "docker build -f operator/Dockerfile"):
        assert command in section, command
    assert "mock API server" in section and "never built" in section
