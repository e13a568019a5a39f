"""What matters in each case of the values matrix, asserted on the rendered objects."""

import json
import re

import pytest

from conftest import CASES, RELEASE, REPO, TURN_POD_RANGE, documents, env_of, find, one, render

PREFIX = f"{RELEASE}-convene"


def containers_of(obj):
    spec = obj["spec"]["template"]["spec"] if obj["kind"] != "Pod" else obj["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def gateway(objects):
    return one(objects, "Deployment", f"{PREFIX}-gateway")


def gateway_env(objects):
    return env_of(pod_spec(gateway(objects))["containers"][0])


def secret_ref(entry):
    ref = entry["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


# ---- Every case ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_every_resource_has_the_standard_labels(rendered_cases, case):
    for obj in rendered_cases[case]:
        labels = obj["metadata"].get("labels", {})
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by",
                    "app.kubernetes.io/version", "app.kubernetes.io/component", "helm.sh/chart"):
            assert key in labels, f"{obj['kind']} {obj['metadata']['name']} lacks {key}"
        assert labels["app.kubernetes.io/instance"] == RELEASE


@pytest.mark.parametrize("case", list(CASES))
def test_secrets_are_referenced_never_inlined_in_workloads(rendered_cases, case):
    secret_like = re.compile(r"(SECRET|KEYS|PASSWORD|_URL)$")
    for obj in rendered_cases[case]:
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        for container in containers_of(obj):
            for entry in container.get("env", []):
                name = entry["name"]
                if secret_like.search(name) and name not in ("CONVENE_PUBLIC_URL", "CONVENE_STUN_URLS", "CONVENE_TURN_URLS"):
                    assert "value" not in entry and "secretKeyRef" in entry.get("valueFrom", {}), (
                        f"{obj['kind']} {obj['metadata']['name']}: {name} must come from a Secret"
                    )


@pytest.mark.parametrize("case", list(CASES))
def test_workloads_are_hardened_and_request_resources(rendered_cases, case):
    for obj in rendered_cases[case]:
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        spec = pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in containers_of(obj):
            context = container["securityContext"]
            where = f"{obj['metadata']['name']}/{container['name']}"
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in context["capabilities"], where
            assert container["resources"]["requests"], where
            image = container["image"]
            assert re.fullmatch(r"[^:\s]+(:\d+)?[^:\s]*:[\w][\w.-]*", image), f"{where}: {image}"


def test_images_default_to_the_chart_app_version(rendered_cases):
    objects = rendered_cases["defaults"]
    assert pod_spec(gateway(objects))["containers"][0]["image"] == "ghcr.io/convene-dev/convene:0.1.0"
    operator = one(objects, "Deployment", f"{PREFIX}-operator")
    assert pod_spec(operator)["containers"][0]["image"] == "ghcr.io/convene-dev/convene-operator:0.1.0"
    pool = one(objects, "SfuPool", "main")
    assert pool["spec"]["template"]["image"] == "ghcr.io/convene-dev/convene:0.1.0"
    tagged = documents(render({"image": {"tag": "1.2.3"}}))
    assert pod_spec(gateway(tagged))["containers"][0]["image"].endswith(":1.2.3")


# ---- Defaults -----------------------------------------------------------------------------


def test_gateway_runs_the_real_binary_with_its_settings(rendered_cases):
    objects = rendered_cases["defaults"]
    container = pod_spec(gateway(objects))["containers"][0]
    assert container["args"] == ["gateway"]
    env = gateway_env(objects)
    assert env["CONVENE_HTTP_ADDR"]["value"] == "0.0.0.0:8080"
    assert env["CONVENE_PUBLIC_URL"]["value"] == "http://localhost:8080"
    assert secret_ref(env["CONVENE_DATABASE_URL"]) == ("convene-external", "database-url")
    assert secret_ref(env["CONVENE_REDIS_URL"]) == ("convene-external", "redis-url")
    assert secret_ref(env["CONVENE_JWT_KEYS"]) == (f"{PREFIX}-secrets", "jwt-keys")
    assert secret_ref(env["CONVENE_SFU_CONTROL_SECRET"]) == (f"{PREFIX}-sfu", "CONVENE_SFU_CONTROL_SECRET")
    assert secret_ref(env["CONVENE_TURN_SECRET"]) == (f"{PREFIX}-secrets", "turn-secret")
    assert env["CONVENE_TURN_URLS"]["value"] == (
        "turn:turn.example.com:3478?transport=udp,turn:turn.example.com:3478?transport=tcp"
    )
    assert env["CONVENE_STUN_URLS"]["value"] == "stun:turn.example.com:3478"
    assert env["CONVENE_SFU_PLACEMENT_POLICY"]["value"] == "distributed"
    assert env["CONVENE_SHUTDOWN_DELAY_SECONDS"]["value"] == "5"
    # Every CONVENE_* the chart sets is a real setting of the binary.
    documented = set(re.findall(r"`(CONVENE_[A-Z_]+)`", (REPO / "docs" / "configuration.md").read_text()))
    for name in env:
        if name.startswith("CONVENE_"):
            assert name in documented, f"{name} is not a setting of convene (docs/configuration.md)"


def test_gateway_probes_and_graceful_shutdown(rendered_cases):
    objects = rendered_cases["defaults"]
    spec = pod_spec(gateway(objects))
    container = spec["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    env = gateway_env(objects)
    shutdown = int(env["CONVENE_SHUTDOWN_DELAY_SECONDS"]["value"]) + int(env["CONVENE_SHUTDOWN_GRACE_SECONDS"]["value"])
    assert spec["terminationGracePeriodSeconds"] > shutdown


def test_gateway_has_service_hpa_pdb_and_no_fixed_replicas(rendered_cases):
    objects = rendered_cases["defaults"]
    assert "replicas" not in gateway(objects)["spec"], "the HPA owns replicas"
    hpa = one(objects, "HorizontalPodAutoscaler", f"{PREFIX}-gateway")
    assert hpa["spec"]["scaleTargetRef"]["name"] == f"{PREFIX}-gateway"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    pdb = one(objects, "PodDisruptionBudget", f"{PREFIX}-gateway")
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"
    service = one(objects, "Service", f"{PREFIX}-gateway")
    assert service["spec"]["selector"] == gateway(objects)["spec"]["selector"]["matchLabels"]
    assert find(objects, "Ingress") == []


def test_migrations_run_as_a_hook_before_install_and_upgrade(rendered_cases):
    job = one(rendered_cases["defaults"], "Job", f"{PREFIX}-migrate")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = pod_spec(job)["containers"][0]
    assert container["args"] == ["migrate"]
    assert secret_ref(env_of(container)["CONVENE_DATABASE_URL"]) == ("convene-external", "database-url")
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_operator_role_has_exactly_the_rules_it_needs(rendered_cases):
    role = one(rendered_cases["defaults"], "Role", f"{PREFIX}-operator")
    rules = {
        (group, resource): sorted(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    # What operator/src calls and nothing more: the Controller's watchers list and watch
    # pools and pods; pods are created, merge-patched and deleted; a pool's status is
    # merge-patched; kube's Recorder creates Events and patches a repeated one's series; the
    # Lease is read, created and merge-patched (never updated). No sfupools/scale: scaling a
    # pool is a user's or an HPA's call.
    assert rules == {
        ("convene.dev", "sfupools"): sorted(["list", "watch"]),
        ("convene.dev", "sfupools/status"): ["patch"],
        ("", "pods"): sorted(["list", "watch", "create", "delete", "patch"]),
        ("events.k8s.io", "events"): sorted(["create", "patch"]),
        ("coordination.k8s.io", "leases"): sorted(["get", "create", "patch"]),
    }
    assert find(rendered_cases["defaults"], "ClusterRole") == []
    binding = one(rendered_cases["defaults"], "RoleBinding", f"{PREFIX}-operator")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == f"{PREFIX}-operator"


def test_operator_deployment(rendered_cases):
    objects = rendered_cases["defaults"]
    operator = one(objects, "Deployment", f"{PREFIX}-operator")
    assert operator["spec"]["replicas"] == 2
    spec = pod_spec(operator)
    assert spec["serviceAccountName"] == f"{PREFIX}-operator"
    env = env_of(spec["containers"][0])
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert secret_ref(env["CONVENE_REDIS_URL"]) == ("convene-external", "redis-url")
    assert env["CONVENE_OPERATOR_HTTP_ADDR"]["value"] == "0.0.0.0:8080"
    assert env["CONVENE_OPERATOR_LEASE_NAME"]["value"] == f"{PREFIX}-operator"
    # Every variable the chart sets is one the operator reads (operator/src/config.rs).
    operator_config = (REPO / "operator" / "src" / "config.rs").read_text()
    for name in env:
        assert f'"{name}"' in operator_config, f"the operator does not read {name}"
    assert spec["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    service = one(objects, "Service", f"{PREFIX}-operator")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


def test_default_sfupool_reads_the_chart_secret(rendered_cases):
    objects = rendered_cases["defaults"]
    pool = one(objects, "SfuPool", "main")
    spec = pool["spec"]
    assert pool["apiVersion"] == "convene.dev/v1alpha1"
    assert spec["exposure"] == {"mode": "HostNetwork", "udpPort": 7882}
    assert spec["capacity"] == {"rooms": 20, "participants": 200}
    assert spec["template"]["envFrom"] == [{"secretRef": {"name": f"{PREFIX}-sfu"}}]
    sfu_secret = one(objects, "Secret", f"{PREFIX}-sfu")
    assert set(sfu_secret["data"]) == {"CONVENE_SFU_CONTROL_SECRET"}
    # External Redis: the URL is taken from the user's Secret, never copied.
    env = {entry["name"]: entry for entry in spec["template"]["env"]}
    assert secret_ref(env["CONVENE_REDIS_URL"]) == ("convene-external", "redis-url")
    assert spec["template"]["labels"]["app.kubernetes.io/instance"] == RELEASE


def test_generated_secrets_are_strong_enough_for_the_binary(rendered_cases):
    import base64

    objects = rendered_cases["defaults"]
    secrets = one(objects, "Secret", f"{PREFIX}-secrets")["data"]
    jwt = base64.b64decode(secrets["jwt-keys"]).decode()
    key_id, encoded = jwt.split(":", 1)
    assert key_id == "k1" and len(base64.b64decode(encoded)) >= 32
    assert len(base64.b64decode(secrets["turn-secret"])) >= 16
    control = one(objects, "Secret", f"{PREFIX}-sfu")["data"]["CONVENE_SFU_CONTROL_SECRET"]
    assert len(base64.b64decode(control)) >= 16


def test_given_secrets_are_used(rendered_cases):
    import base64

    given = {"jwtKeys": "k9:" + base64.b64encode(b"x" * 32).decode(), "sfuControlSecret": "c" * 20, "turnSecret": "t" * 20}
    objects = documents(render({"secrets": given}))
    secrets = one(objects, "Secret", f"{PREFIX}-secrets")["data"]
    assert base64.b64decode(secrets["jwt-keys"]).decode() == given["jwtKeys"]
    assert base64.b64decode(secrets["turn-secret"]).decode() == given["turnSecret"]
    control = one(objects, "Secret", f"{PREFIX}-sfu")["data"]["CONVENE_SFU_CONTROL_SECRET"]
    assert base64.b64decode(control).decode() == given["sfuControlSecret"]


def test_coturn_defaults_deny_private_peers(rendered_cases):
    objects = rendered_cases["defaults"]
    config = one(objects, "ConfigMap", f"{PREFIX}-turn")["data"]["turnserver.conf.template"]
    for denied in ("10.0.0.0-10.255.255.255", "172.16.0.0-172.31.255.255", "192.168.0.0-192.168.255.255",
                   "127.0.0.0-127.255.255.255", "100.64.0.0-100.127.255.255", "169.254.0.0-169.254.255.255"):
        assert f"denied-peer-ip={denied}" in config
    assert "allowed-peer-ip" not in config.replace("# allowed-peer-ip", "")
    assert "allow-loopback-peers" not in config
    assert "static-auth-secret=${TURN_SECRET}" in config, "the secret is filled in by the init container only"
    assert "realm=turn.example.com" in config
    assert re.search(r"^no-tls$", config, re.M) and re.search(r"^no-dtls$", config, re.M)
    deployment = one(objects, "Deployment", f"{PREFIX}-turn")
    assert pod_spec(deployment)["hostNetwork"] is True
    assert pod_spec(deployment)["dnsPolicy"] == "ClusterFirstWithHostNet"
    init = pod_spec(deployment)["initContainers"][0]
    assert secret_ref(env_of(init)["TURN_SECRET"]) == (f"{PREFIX}-secrets", "turn-secret")
    assert find(objects, "Service", f"{PREFIX}-turn") == []


def test_network_policies(rendered_cases):
    objects = rendered_cases["defaults"]
    policies = {p["metadata"]["name"]: p["spec"] for p in find(objects, "NetworkPolicy")}
    assert set(policies) == {f"{PREFIX}-gateway", f"{PREFIX}-sfu", f"{PREFIX}-operator"}
    gateway_from = policies[f"{PREFIX}-gateway"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in gateway_from
    sfu = policies[f"{PREFIX}-sfu"]
    control = next(rule for rule in sfu["ingress"] if rule["ports"][0]["port"] == 8090)
    assert control["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"
    media = next(rule for rule in sfu["ingress"] if rule["ports"][0]["protocol"] == "UDP")
    assert "from" not in media and media["ports"][0]["port"] == 7882
    operator = policies[f"{PREFIX}-operator"]
    assert operator["policyTypes"] == ["Ingress", "Egress"]
    egress_ports = {(p["port"], p["protocol"]) for rule in operator["egress"] for p in rule["ports"]}
    assert {(443, "TCP"), (6443, "TCP"), (6379, "TCP"), (53, "UDP")} <= egress_ports


def test_grafana_dashboard_is_labelled_for_the_sidecar(rendered_cases):
    import json

    configmap = one(rendered_cases["defaults"], "ConfigMap", f"{PREFIX}-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["convene.json"])
    assert dashboard["panels"]


def test_notes_tell_how_to_reach_the_ui_and_scale_the_pool():
    notes = render({})["convene/templates/NOTES.txt"]
    assert f"port-forward svc/{PREFIX}-gateway 8080:80" in notes
    assert "kubectl -n convene get sfp" in notes
    assert "scale sfupool main --replicas=8" in notes
    assert "convene.dev/drain=true" in notes
    with_ingress = render(CASES["host-network"])["convene/templates/NOTES.txt"]
    assert "https://meet.example.com" in with_ingress


# ---- HostNetwork exposure with Ingress and TLS ----------------------------------------------


def test_host_network_case(rendered_cases):
    objects = rendered_cases["host-network"]
    pool = one(objects, "SfuPool", "main")
    assert pool["spec"]["exposure"] == {"mode": "HostNetwork", "udpPort": 7882, "tcpPort": 7881}
    ingress = one(objects, "Ingress", f"{PREFIX}")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "3600"
    assert ingress["spec"]["tls"][0]["hosts"] == ["meet.example.com"]
    env = gateway_env(objects)
    assert env["CONVENE_PUBLIC_URL"]["value"] == "https://meet.example.com"
    assert env["CONVENE_TRUST_FORWARDED_FOR"]["value"] == "true"
    assert env["CONVENE_TURN_URLS"]["value"].endswith(",turns:turn.example.net:5349?transport=tcp")
    config = one(objects, "ConfigMap", f"{PREFIX}-turn")["data"]["turnserver.conf.template"]
    assert "cert=/etc/coturn/tls/tls.crt" in config and "tls-listening-port=5349" in config
    assert not re.search(r"^no-tls$", config, re.M)
    sfu_policy = one(objects, "NetworkPolicy", f"{PREFIX}-sfu")
    tcp = [p for rule in sfu_policy["spec"]["ingress"] for p in rule["ports"] if p["port"] == 7881]
    assert tcp == [{"port": 7881, "protocol": "TCP"}]


# ---- Turn exposure --------------------------------------------------------------------------


def test_turn_exposure_case(rendered_cases):
    objects = rendered_cases["turn-exposure"]
    pool = one(objects, "SfuPool", "main")
    assert pool["spec"]["exposure"]["mode"] == "Turn"
    assert "tcpPort" not in pool["spec"]["exposure"]
    assert pool["spec"]["placement"] == "Packed"
    assert gateway_env(objects)["CONVENE_SFU_PLACEMENT_POLICY"]["value"] == "packed"
    config = one(objects, "ConfigMap", f"{PREFIX}-turn")["data"]["turnserver.conf.template"]
    # coturn may relay into the pod range (the SFU pods) and nothing else private.
    assert re.findall(r"^allowed-peer-ip=(.*)$", config, re.M) == [TURN_POD_RANGE]
    assert "denied-peer-ip=10.0.0.0-10.255.255.255" in config
    assert "external-ip=203.0.113.7" in config
    assert "min-port=50000" in config and "max-port=50009" in config
    deployment = one(objects, "Deployment", f"{PREFIX}-turn")
    assert "hostNetwork" not in pod_spec(deployment)
    service = one(objects, "Service", f"{PREFIX}-turn")
    assert service["spec"]["type"] == "LoadBalancer"
    ports = {(p["port"], p["targetPort"], p["protocol"]) for p in service["spec"]["ports"]}
    assert {(3478, 3478, "UDP"), (3478, 3478, "TCP"), (443, 5349, "TCP")} <= ports
    assert {(port, port, "UDP") for port in range(50000, 50010)} <= ports
    env = gateway_env(objects)
    assert env["CONVENE_TURN_URLS"]["value"].endswith(",turns:turn.example.net:443?transport=tcp")


def test_turn_exposure_without_the_pod_range_fails_with_a_clear_message():
    values = {"sfuPool": {"exposure": {"mode": "Turn", "udpPort": 7882}}}
    with pytest.raises(Exception) as error:
        render(values)
    assert "allowedPeerIPs" in str(error.value)


def test_load_balanced_coturn_must_be_single():
    with pytest.raises(Exception) as error:
        render({"turn": {"exposure": "LoadBalancer", "replicas": 2}})
    assert "turn.replicas=1" in str(error.value)


# ---- In-chart databases ---------------------------------------------------------------------


def test_in_chart_databases_are_wired(rendered_cases):
    import base64

    objects = rendered_cases["in-chart-databases"]
    env = gateway_env(objects)
    assert secret_ref(env["CONVENE_DATABASE_URL"]) == (f"{PREFIX}-database", "database-url")
    assert secret_ref(env["CONVENE_REDIS_URL"]) == (f"{PREFIX}-sfu", "CONVENE_REDIS_URL")
    database = one(objects, "Secret", f"{PREFIX}-database")["data"]
    password = base64.b64decode(database["postgres-password"]).decode()
    url = base64.b64decode(database["database-url"]).decode()
    assert url == f"postgres://convene:{password}@{PREFIX}-postgresql:5432/convene"
    sfu_secret = one(objects, "Secret", f"{PREFIX}-sfu")["data"]
    redis_password = base64.b64decode(one(objects, "Secret", f"{PREFIX}-secrets")["data"]["redis-password"]).decode()
    assert len(redis_password) >= 32
    assert base64.b64decode(sfu_secret["CONVENE_REDIS_URL"]).decode() == f"redis://:{redis_password}@{PREFIX}-redis:6379"
    statefulset = one(objects, "StatefulSet", f"{PREFIX}-postgresql")
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "8Gi"
    postgres_env = env_of(pod_spec(statefulset)["containers"][0])
    assert secret_ref(postgres_env["POSTGRES_PASSWORD"]) == (f"{PREFIX}-database", "postgres-password")
    one(objects, "Service", f"{PREFIX}-postgresql")
    one(objects, "Deployment", f"{PREFIX}-redis")
    one(objects, "Service", f"{PREFIX}-redis")
    # The SFU pods get Redis through envFrom alone, the operator through the chart's Secret.
    pool = one(objects, "SfuPool", "main")
    assert "env" not in pool["spec"]["template"]
    operator_env = env_of(pod_spec(one(objects, "Deployment", f"{PREFIX}-operator"))["containers"][0])
    assert secret_ref(operator_env["CONVENE_REDIS_URL"]) == (f"{PREFIX}-sfu", "CONVENE_REDIS_URL")
    # No database before install: the migrations run after it (and before upgrades).
    job = one(objects, "Job", f"{PREFIX}-migrate")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    # Only Convene's pods reach the databases.
    policies = {p["metadata"]["name"]: p["spec"] for p in find(objects, "NetworkPolicy")}
    postgres_from = policies[f"{PREFIX}-postgresql"]["ingress"][0]["from"]
    assert {f["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for f in postgres_from} == {"gateway", "migrate"}
    redis_from = policies[f"{PREFIX}-redis"]["ingress"][0]["from"]
    assert len(redis_from) == 3
    # SFU pods on hostNetwork: only the nodes' range, never any address.
    assert policies[f"{PREFIX}-redis"]["ingress"][1]["from"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}]


def test_in_chart_redis_requires_its_password(rendered_cases):
    import base64

    objects = rendered_cases["in-chart-databases"]
    password = base64.b64decode(one(objects, "Secret", f"{PREFIX}-secrets")["data"]["redis-password"]).decode()
    container = pod_spec(one(objects, "Deployment", f"{PREFIX}-redis"))["containers"][0]
    command = " ".join(container["command"] + container.get("args", []))
    assert '--requirepass "$REDIS_PASSWORD"' in command and command.startswith("sh -c exec redis-server")
    assert "protected-mode" not in command
    env = env_of(container)
    assert secret_ref(env["REDIS_PASSWORD"]) == (f"{PREFIX}-secrets", "redis-password")
    # The probes authenticate (redis-cli reads REDISCLI_AUTH) and pass on PONG only.
    assert secret_ref(env["REDISCLI_AUTH"]) == (f"{PREFIX}-secrets", "redis-password")
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["exec"]["command"] == ["sh", "-c", "redis-cli ping | grep -qx PONG"]
    # The password (and any redis:// URL) lives in Secrets only, never in a workload's spec.
    for document in objects:
        if document["kind"] != "Secret":
            text = json.dumps(document)
            assert password not in text, f"{document['kind']} {document['metadata']['name']} holds the Redis password"
            assert "redis://" not in text, f"{document['kind']} {document['metadata']['name']} holds a Redis URL"


def test_given_redis_password_is_used():
    import base64

    given = "a-given-redis-password-0123"
    objects = documents(render({"redis": {"enabled": True, "password": given},
                                "networkPolicy": {"nodeCidr": "10.0.0.0/16"}}))
    sfu_secret = one(objects, "Secret", f"{PREFIX}-sfu")["data"]
    assert base64.b64decode(sfu_secret["CONVENE_REDIS_URL"]).decode() == f"redis://:{given}@{PREFIX}-redis:6379"
    assert base64.b64decode(one(objects, "Secret", f"{PREFIX}-secrets")["data"]["redis-password"]).decode() == given


def test_in_chart_redis_on_host_network_needs_the_node_cidr():
    with pytest.raises(Exception) as error:
        render({"redis": {"enabled": True}})
    assert "networkPolicy.nodeCidr" in str(error.value)
    # Not needed when no SFU pod is on hostNetwork, or without NetworkPolicies.
    render({"redis": {"enabled": True}, "networkPolicy": {"enabled": False}})
    render({"redis": {"enabled": True}, "sfuPool": {"enabled": False}})
    render({"redis": {"enabled": True}, "sfuPool": {"exposure": {"mode": "Turn"}},
            "turn": {"allowedPeerIPs": ["10.244.0.0-10.244.255.255"]}})
    # Deliberately any address: the password alone guards Redis then.
    objects = documents(render({"redis": {"enabled": True}, "networkPolicy": {"nodeCidr": "0.0.0.0/0"}}))
    policy = one(objects, "NetworkPolicy", f"{PREFIX}-redis")["spec"]
    assert policy["ingress"][1]["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]


# ---- HPA off, ServiceMonitor on, NetworkPolicies off -----------------------------------------


def test_notes_warn_when_the_pdb_blocks_every_eviction():
    notes = render({"gateway": {"autoscaling": {"enabled": False}, "replicas": 1}})["convene/templates/NOTES.txt"]
    assert "cannot evict a gateway" in notes
    assert "cannot evict" not in render({})["convene/templates/NOTES.txt"]


def test_hpa_off_case(rendered_cases):
    objects = rendered_cases["hpa-off"]
    assert gateway(objects)["spec"]["replicas"] == 3
    assert find(objects, "HorizontalPodAutoscaler") == []


def test_service_monitor_case(rendered_cases):
    objects = rendered_cases["service-monitor"]
    gateway_monitor = one(objects, "ServiceMonitor", f"{PREFIX}-gateway")
    assert gateway_monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert gateway_monitor["spec"]["endpoints"][0] == {"port": "http", "path": "/metrics", "interval": "30s"}
    service_ports = {p["name"] for p in one(objects, "Service", f"{PREFIX}-gateway")["spec"]["ports"]}
    assert "http" in service_ports
    operator_monitor = one(objects, "ServiceMonitor", f"{PREFIX}-operator")
    assert operator_monitor["spec"]["endpoints"][0]["port"] == "metrics"
    pod_monitor = one(objects, "PodMonitor", f"{PREFIX}-sfu")
    # The operator names the SFU pods' control port "control" (8090) and labels them so.
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] == "control"
    assert pod_monitor["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "convene-sfu",
        "app.kubernetes.io/instance": RELEASE,
    }


def test_network_policies_off_case(rendered_cases):
    assert find(rendered_cases["network-policies-off"], "NetworkPolicy") == []
