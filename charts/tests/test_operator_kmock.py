"""The real `convene-operator` over HTTP against kmock's in-memory Kubernetes emulator, with a
throwaway Redis and real `convene sfu` processes playing one pool's pods (the kubelet's part
is played by the script): operator/tests/kmock_smoke.py, run here so that the suite covers
the operator's wiring end to end, not only its mock-apiserver unit tests.

kmock is a fake, not a cluster (see the script's docstring and docs/operator.md): a pass says
the binary talks plain Kubernetes HTTP and drives real SFU nodes through the bus; it says
nothing about a real apiserver.
"""

import os
import pathlib
import subprocess
import sys

import pytest

from conftest import REPO

TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path.home() / ".cache" / "convene" / "target"))
OPERATOR = TARGET / "debug" / "convene-operator"
CONVENE = pathlib.Path(os.environ.get("CONVENE_BIN", TARGET / "debug" / "convene"))

# In CI the binaries were built by `cargo test --workspace --all-targets` just before: a
# missing one is a failure there, and a skip on a developer's partial run.
missing = [path for path in (OPERATOR, CONVENE) if not path.exists()]
pytestmark = pytest.mark.skipif(
    bool(missing) and not os.environ.get("CI"),
    reason=f"not built: {', '.join(map(str, missing))} (cargo build -p convene-operator -p convene-server)",
)


def test_the_operator_binary_runs_pools_of_real_sfu_nodes_against_an_emulated_apiserver():
    result = subprocess.run(
        [sys.executable, str(REPO / "operator" / "tests" / "kmock_smoke.py"), str(OPERATOR), str(CONVENE)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, f"kmock smoke failed:\n{result.stdout}\n{result.stderr}"
    assert "PASS" in result.stdout
    # What the run must have shown, step by step.
    for step in (
        "lease held by",
        "pods created:",
        "registry outage reported",
        "failed pod",
        "during the outage: nothing drained or deleted for silence",
        "followed the drain request",
        "node forgotten",
        "real node drained through the bus",
        "SIGTERM: exit 0, lease released",
    ):
        assert step in result.stdout, f"missing step {step!r}:\n{result.stdout}"
