"""The Dockerfiles, read as text (no Docker engine runs here, so the images were never built
by these tests): what they COPY from the build context exists and is not excluded by
.dockerignore, and the runtime stage runs the right binary as the non-root user the chart
expects (65532)."""

import fnmatch
import re

import pytest

from conftest import REPO

DOCKERFILES = {
    "Dockerfile": {"binary": "convene", "package": "convene-server"},
    "operator/Dockerfile": {"binary": "convene-operator", "package": "convene-operator"},
}


def instructions(path):
    """(instruction, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / path).read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def stages(path):
    """Instructions grouped by FROM."""
    groups = []
    for keyword, rest in instructions(path):
        if keyword == "FROM":
            groups.append([])
        groups[-1].append((keyword, rest))
    return groups


def dockerignore_patterns():
    return [
        line.strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def ignored(path):
    for pattern in dockerignore_patterns():
        for prefix in [path] + [str(p) for p in __import__("pathlib").PurePosixPath(path).parents]:
            if fnmatch.fnmatch(prefix.rstrip("/"), pattern) or fnmatch.fnmatch(prefix.rstrip("/"), pattern.lstrip("*/")):
                return True
    return False


@pytest.mark.parametrize("path", list(DOCKERFILES))
def test_copied_paths_exist_in_the_build_context(path):
    for keyword, rest in instructions(path):
        if keyword != "COPY" or "--from=" in rest:
            continue
        parts = [part for part in rest.split() if not part.startswith("--")]
        for source in parts[:-1]:
            assert (REPO / source).exists(), f"{path}: COPY {source}: no such path"
            assert not ignored(source.rstrip("/")), f"{path}: COPY {source} is excluded by .dockerignore"


@pytest.mark.parametrize("path", list(DOCKERFILES))
def test_runtime_stage_is_small_non_root_and_runs_the_binary(path):
    binary = DOCKERFILES[path]["binary"]
    runtime = stages(path)[-1]
    base = runtime[0][1]
    assert base.startswith("gcr.io/distroless/cc-debian12:nonroot") or "slim" in base, base
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users and users[-1].split(":")[0] == "65532", f"{path}: the runtime runs as {users}"
    entrypoint = [rest for keyword, rest in runtime if keyword == "ENTRYPOINT"]
    assert entrypoint == [f'["/usr/local/bin/{binary}"]']
    copies = [rest for keyword, rest in runtime if keyword == "COPY"]
    assert any(f"/usr/local/bin/{binary}" in copy for copy in copies)


@pytest.mark.parametrize("path", list(DOCKERFILES))
def test_build_stage_builds_the_release_binary_with_a_cargo_cache(path):
    package = DOCKERFILES[path]["package"]
    runs = " ".join(rest for keyword, rest in instructions(path) if keyword == "RUN")
    assert f"cargo build --release --locked -p {package}" in runs
    assert "--mount=type=cache,target=/usr/local/cargo/registry" in runs
    # The workspace lists these members: cargo refuses to build without their manifests.
    manifest = (REPO / "Cargo.toml").read_text()
    copies = " ".join(rest for keyword, rest in instructions(path) if keyword == "COPY")
    for member in re.findall(r'"([a-z]+)(?:/\*)?"', manifest.split("members", 1)[1].split("]", 1)[0]):
        assert f"{member}/" in copies, f"{path} does not copy workspace member {member}/"


def test_convene_image_serves_the_built_web_ui():
    text = (REPO / "Dockerfile").read_text()
    assert "npm ci" in text and "npm run build" in text
    assert "COPY --from=web /src/web/dist /usr/share/convene/web" in text
    # The binary's default web dir is a source-tree path; the image must point at its copy
    # (CONVENE_WEB_DIR is a real setting).
    assert "CONVENE_WEB_DIR=/usr/share/convene/web" in text
    assert "`CONVENE_WEB_DIR`" in (REPO / "docs" / "configuration.md").read_text()
    exposed = [rest for keyword, rest in instructions("Dockerfile") if keyword == "EXPOSE"]
    assert exposed == ["8080 8090 7882/udp"]


def test_chart_runs_the_images_as_their_user():
    """The chart's pod securityContext uses the same uid the images declare."""
    helpers = (REPO / "charts" / "convene" / "templates" / "_helpers.tpl").read_text()
    assert "runAsUser: {{ .uid }}" in helpers
    for template in ("gateway-deployment.yaml", "operator.yaml", "migrate-job.yaml"):
        text = (REPO / "charts" / "convene" / "templates" / template).read_text()
        assert '(dict "uid" 65532)' in text, template


def test_dockerignore_keeps_build_output_and_history_out():
    patterns = dockerignore_patterns()
    for needed in ("target", "node_modules", "data", ".git"):
        assert needed in patterns
