"""The chart lints clean (strict) with the real Helm SDK and every manifest it renders, for
every case of the values matrix, validates against the Kubernetes 1.30 and 1.37 schemas
(`kubernetes-validate --strict`, which rejects unknown fields)."""

import os
import pathlib
import subprocess
import sys

import helm_python
import pytest
import yaml

from conftest import CASES, CHART

KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
# Kinds the Kubernetes schemas do not know: checked by their own tests instead (SfuPool
# against our CRD, the Prometheus operator's kinds by shape in test_cases.py).
CUSTOM_KINDS = {"SfuPool", "ServiceMonitor", "PodMonitor"}
KUBERNETES_VALIDATE = pathlib.Path(sys.executable).with_name("kubernetes-validate")


@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_lint_is_clean_in_strict_mode(case, kube_version):
    report = helm_python.lint(
        str(CHART), CASES[case], strict=True, namespace="convene", kube_version=f"v{kube_version}"
    )
    findings = [
        f"{message['path']}: {message['error']}"
        for message in report["messages"]
        if message["severity"] >= 1
    ]
    assert report["errors"] == [] and findings == [], "\n".join(report["errors"] + findings)


def write_manifests(rendered_cases, directory):
    paths = []
    for case, objects in rendered_cases.items():
        for number, document in enumerate(objects):
            name = f"{case}--{number:02d}-{document['kind']}-{document['metadata']['name']}.yaml"
            path = directory / name
            path.write_text(yaml.safe_dump(document))
            paths.append(path)
    return paths


def run_kubernetes_validate(version, paths):
    return subprocess.run(
        [str(KUBERNETES_VALIDATE), "-k", version, "--strict", "--quiet", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
def test_every_rendered_manifest_validates_against_kubernetes(rendered_cases, tmp_path, kube_version):
    paths = write_manifests(rendered_cases, tmp_path)
    assert len(paths) > 7 * 10, "the matrix renders too little to be a real check"
    result = run_kubernetes_validate(kube_version, paths)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Only custom kinds may be unknown to the schemas.
    for line in output.splitlines():
        if line.startswith("WARN"):
            assert any(f"kind {kind} " in line for kind in CUSTOM_KINDS), line
        else:
            assert not line.strip() or "INFO" in line, line


def test_kubernetes_validate_rejects_an_unknown_field(rendered_cases, tmp_path):
    """Guards the check above: a manifest with a typo'd field fails."""
    deployment = next(
        o for o in rendered_cases["defaults"] if o["kind"] == "Deployment"
    )
    broken = dict(deployment, spec=dict(deployment["spec"], replica=3))
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = run_kubernetes_validate("1.37.0", [path])
    assert result.returncode != 0
    assert "replica" in result.stdout + result.stderr


EMPTY_KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"


@pytest.mark.parametrize("case", list(CASES))
def test_install_dry_run_succeeds(case):
    """`helm install --dry-run=client`: Helm's whole install path short of the cluster (CRDs
    from crds/, hooks split off, kinds ordered, NOTES rendered)."""
    config = helm_python.Config(storage_driver="memory", kubeconfig_content=EMPTY_KUBECONFIG)
    try:
        release = config.install(str(CHART), "convene", CASES[case], namespace="convene", dry_run="client")
    finally:
        config.close()
    assert release["status"] == "pending-install"
    assert "kubectl -n convene get sfp" in release["notes"]
    kinds = [document["kind"] for document in yaml.safe_load_all(release["manifest"]) if document]
    # The migrations Job is a hook, not part of the release's manifest.
    assert "Job" not in kinds
    assert "Deployment" in kinds and "SfuPool" in kinds
