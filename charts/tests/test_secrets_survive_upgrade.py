"""Secrets the chart generates survive `helm upgrade`: the templates `lookup` the Secrets of
the previous install and reuse their values. Helm's real lookup runs here against a minimal
HTTP API server that answers only what lookup asks (version, discovery, GET of a Secret) and
serves the Secrets the first render produced, as a cluster would after the install. It is
not a Kubernetes API server: it proves the chart's lookup logic, not an install."""

import base64
import http.server
import json
import threading

import helm_python
import pytest
import yaml

from conftest import CHART, NAMESPACE, RELEASE

PREFIX = f"{RELEASE}-convene"


class SecretsOnlyApiServer:
    """Serves GET /api/v1/namespaces/<ns>/secrets/<name> from `self.secrets`."""

    def __init__(self):
        self.secrets = {}
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                outer.requests.append(path)
                if path == "/version":
                    return self.reply(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0"})
                if path == "/api":
                    return self.reply(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": []})
                if path == "/apis":
                    return self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
                if path == "/api/v1":
                    return self.reply(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                        {"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret",
                         "verbs": ["get"]}]})
                prefix = f"/api/v1/namespaces/{NAMESPACE}/secrets/"
                if path.startswith(prefix) and path[len(prefix):] in outer.secrets:
                    return self.reply(200, outer.secrets[path[len(prefix):]])
                self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                 "reason": "NotFound", "code": 404})

            def reply(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def kubeconfig(self):
        port = self.server.server_address[1]
        return yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "fake", "user": {"token": "unused"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": NAMESPACE}}],
        })


@pytest.fixture()
def api_server():
    server = SecretsOnlyApiServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def secrets_of(rendered):
    return {
        document["metadata"]["name"]: document
        for document in yaml.safe_load_all(rendered["convene/templates/secrets.yaml"])
        if document and document["kind"] == "Secret"
    }


def render_against(server, values, *, is_upgrade):
    config = helm_python.Config(kubeconfig_content=server.kubeconfig(), storage_driver="memory", namespace=NAMESPACE)
    try:
        return config.render(helm_python.Chart.load(str(CHART)), values, name=RELEASE, namespace=NAMESPACE,
                             is_install=not is_upgrade, is_upgrade=is_upgrade)
    finally:
        config.close()


VALUES = {"postgresql": {"enabled": True}, "redis": {"enabled": True}, "networkPolicy": {"nodeCidr": "10.0.0.0/16"}}


def test_generated_secrets_are_kept_on_upgrade(api_server):
    installed = secrets_of(render_against(api_server, VALUES, is_upgrade=False))
    assert set(installed) == {f"{PREFIX}-secrets", f"{PREFIX}-sfu", f"{PREFIX}-database"}
    # The cluster now holds what the install created.
    api_server.secrets.update(installed)
    upgraded = secrets_of(render_against(api_server, VALUES, is_upgrade=True))
    for name, secret in installed.items():
        assert upgraded[name]["data"] == secret["data"], f"{name} changed on upgrade"
    assert f"/api/v1/namespaces/{NAMESPACE}/secrets/{PREFIX}-secrets" in api_server.requests
    # The database URL is rebuilt from the kept password, so it still opens the same database.
    password = base64.b64decode(upgraded[f"{PREFIX}-database"]["data"]["postgres-password"]).decode()
    url = base64.b64decode(upgraded[f"{PREFIX}-database"]["data"]["database-url"]).decode()
    assert f":{password}@" in url
    # Likewise the in-chart Redis's password, and the URL every Convene pod uses carries it.
    redis_password = base64.b64decode(upgraded[f"{PREFIX}-secrets"]["data"]["redis-password"]).decode()
    assert len(redis_password) >= 32
    redis_url = base64.b64decode(upgraded[f"{PREFIX}-sfu"]["data"]["CONVENE_REDIS_URL"]).decode()
    assert redis_url == f"redis://:{redis_password}@{PREFIX}-redis:6379"


def test_without_the_previous_secrets_new_ones_are_generated(api_server):
    """The check above is not vacuous: with nothing to look up, every render generates anew
    (which is why `helm template`/GitOps users must give the secrets in values)."""
    first = secrets_of(render_against(api_server, VALUES, is_upgrade=False))
    second = secrets_of(render_against(api_server, VALUES, is_upgrade=True))
    assert first[f"{PREFIX}-secrets"]["data"]["jwt-keys"] != second[f"{PREFIX}-secrets"]["data"]["jwt-keys"]
    assert first[f"{PREFIX}-database"]["data"]["postgres-password"] != second[f"{PREFIX}-database"]["data"]["postgres-password"]
    assert first[f"{PREFIX}-secrets"]["data"]["redis-password"] != second[f"{PREFIX}-secrets"]["data"]["redis-password"]


def test_given_values_win_over_what_exists(api_server):
    installed = secrets_of(render_against(api_server, {}, is_upgrade=False))
    api_server.secrets.update(installed)
    rotated = "k2:" + base64.b64encode(b"r" * 32).decode()
    upgraded = secrets_of(render_against(api_server, {"secrets": {"jwtKeys": rotated}}, is_upgrade=True))
    assert base64.b64decode(upgraded[f"{PREFIX}-secrets"]["data"]["jwt-keys"]).decode() == rotated
    assert upgraded[f"{PREFIX}-secrets"]["data"]["turn-secret"] == installed[f"{PREFIX}-secrets"]["data"]["turn-secret"]
