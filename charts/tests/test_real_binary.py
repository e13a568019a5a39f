"""The environment the chart gives the migrations Job and the gateways configures the real
`convene` binary: rendered manifests are turned into processes (values as rendered, Secrets
resolved from the rendered Secrets and a stand-in for the external Secret that points at
this machine's Postgres and Redis). Only what a test on this machine must change is changed:
the listen addresses (127.0.0.1 and free ports, not 0.0.0.0) and the data directory.

Needs the debug `convene` binary (script/test builds it first; or set CONVENE_BIN)."""

import base64
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

from conftest import RELEASE, REPO, documents, one, render

PREFIX = f"{RELEASE}-convene"
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path.home() / ".cache" / "convene" / "target"))
CONVENE = pathlib.Path(os.environ.get("CONVENE_BIN", TARGET / "debug" / "convene"))
POSTGRES = os.environ.get("CONVENE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("CONVENE_TEST_REDIS_URL", "redis://127.0.0.1:6379")

# In CI the binary was built by `cargo test --workspace --all-targets` just before: a missing
# one is a failure there (the test runs and fails on the missing file), a skip on a
# developer's partial run.
pytestmark = pytest.mark.skipif(
    not CONVENE.exists() and not os.environ.get("CI"),
    reason=f"no convene binary at {CONVENE} (cargo build --bin convene, or set CONVENE_BIN)",
)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def database():
    """A fresh database on the test Postgres, dropped afterwards."""
    name = f"chart_{uuid.uuid4().hex[:12]}"
    base = POSTGRES.rsplit("/", 1)[0]
    subprocess.run(["psql", POSTGRES, "-qc", f"CREATE DATABASE {name}"], check=True, timeout=30)
    try:
        yield f"{base}/{name}"
    finally:
        subprocess.run(["psql", POSTGRES, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], timeout=30)


def resolve_env(container, secrets):
    """A container's env as the kubelet would set it (values and secretKeyRefs)."""
    env = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif "secretKeyRef" in entry.get("valueFrom", {}):
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = base64.b64decode(secrets[ref["name"]][ref["key"]]).decode()
    return env


def secrets_with_external(objects, database_url):
    secrets = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "Secret"}
    secrets["convene-external"] = {
        "database-url": base64.b64encode(database_url.encode()).decode(),
        "redis-url": base64.b64encode(REDIS.encode()).decode(),
    }
    return secrets


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return None, ""


def wait_for(url, process, log_path, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited {process.returncode}: {log_path.read_text()}"
        status, body = get(url)
        if status == 200:
            return body
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200: {log_path.read_text()}")


def start(args, env, log_path):
    base = {"PATH": os.environ["PATH"], "HOME": str(log_path.parent)}
    return subprocess.Popen([str(CONVENE), *args], env={**base, **env},
                            stdout=log_path.open("w"), stderr=subprocess.STDOUT)


def stop(process, timeout):
    """SIGTERM, as the kubelet sends; returns how long the process took to exit."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"did not stop within terminationGracePeriodSeconds ({timeout} s)")
    return time.monotonic() - started


def test_migrations_job_and_gateway_start_with_the_rendered_environment(database, tmp_path):
    objects = documents(render({}))
    secrets = secrets_with_external(objects, database)

    job = one(objects, "Job", f"{PREFIX}-migrate")
    migrate = job["spec"]["template"]["spec"]["containers"][0]
    env = resolve_env(migrate, secrets) | {"CONVENE_DATA_DIR": str(tmp_path)}
    result = subprocess.run([str(CONVENE), *migrate["args"]], env={"PATH": os.environ["PATH"], **env},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

    deployment = one(objects, "Deployment", f"{PREFIX}-gateway")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    port = free_port()
    env = resolve_env(container, secrets)
    assert env["CONVENE_HTTP_ADDR"] == "0.0.0.0:8080"
    env |= {"CONVENE_HTTP_ADDR": f"127.0.0.1:{port}", "CONVENE_DATA_DIR": str(tmp_path)}
    log_path = tmp_path / "gateway.log"
    process = start(container["args"], env, log_path)
    try:
        wait_for(f"http://127.0.0.1:{port}{container['livenessProbe']['httpGet']['path']}", process, log_path)
        ready = json.loads(wait_for(f"http://127.0.0.1:{port}{container['readinessProbe']['httpGet']['path']}",
                                    process, log_path))
        assert ready["status"] == "ready" and ready["checks"] == {"store": "ok", "bus": "ok"}, ready
        # The metrics the ServiceMonitor scrapes.
        status, metrics = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "convene_http_requests_total" in metrics
        took = stop(process, pod["terminationGracePeriodSeconds"])
        assert process.returncode == 0, log_path.read_text()
        # SIGTERM waits CONVENE_SHUTDOWN_DELAY_SECONDS first (endpoints update meanwhile).
        assert took >= int(env["CONVENE_SHUTDOWN_DELAY_SECONDS"]) - 0.5
        print(f"gateway stopped {took:.1f} s after SIGTERM (grace period {pod['terminationGracePeriodSeconds']} s)")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


IN_CHART_REDIS = {"redis": {"enabled": True}, "networkPolicy": {"nodeCidr": "10.0.0.0/16"}}


def redis_cli(port, *args, password=None):
    env = {"PATH": os.environ["PATH"]} | ({"REDISCLI_AUTH": password} if password else {})
    return subprocess.run(["redis-cli", "-p", str(port), *args], env=env, capture_output=True, text=True, timeout=10)


@pytest.fixture()
def chart_redis(tmp_path):
    """The in-chart Redis as its Deployment runs it: the rendered command and environment
    (the password from the rendered Secret), on loopback and a free port instead of *:6379,
    with a temporary directory for /data. Yields (objects, secrets, port)."""
    if shutil.which("redis-server") is None and not os.environ.get("CI"):
        pytest.skip("no redis-server (apt-get install redis-server)")
    objects = documents(render(IN_CHART_REDIS))
    secrets = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "Secret"}
    container = one(objects, "Deployment", f"{PREFIX}-redis")["spec"]["template"]["spec"]["containers"][0]
    port = free_port()
    data = tmp_path / "redis-data"
    data.mkdir()
    assert container["command"][:2] == ["sh", "-c"] and " --dir /data " in container["command"][2]
    script = container["command"][2].replace(" --dir /data ", f" --dir {data} ") + f" --port {port} --bind 127.0.0.1"
    log_path = tmp_path / "redis.log"
    process = subprocess.Popen(["sh", "-c", script], env={"PATH": os.environ["PATH"], **resolve_env(container, secrets)},
                               stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        # Up once it answers at all (NOAUTH without the password).
        while not any(word in (reply := redis_cli(port, "ping")).stdout + reply.stderr for word in ("NOAUTH", "PONG")):
            assert process.poll() is None, f"redis-server exited {process.returncode}: {log_path.read_text()}"
            assert time.monotonic() < deadline, f"redis-server never answered: {log_path.read_text()}"
            time.sleep(0.1)
        yield objects, secrets, container, port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_in_chart_redis_refuses_clients_without_its_password_and_its_probes_pass(chart_redis):
    objects, secrets, container, port = chart_redis
    password = base64.b64decode(secrets[f"{PREFIX}-secrets"]["redis-password"]).decode()
    # No password: every command is refused (and the probes' `grep -qx PONG` would fail).
    assert "NOAUTH" in redis_cli(port, "ping").stdout + redis_cli(port, "ping").stderr
    assert "NOAUTH" in redis_cli(port, "publish", "anything", "forged").stdout
    assert redis_cli(port, "ping", password="not-the-password").stdout.strip() != "PONG"
    # The rendered probes, with the container's environment (REDISCLI_AUTH from the Secret);
    # only the port differs here.
    env = {"PATH": os.environ["PATH"], **resolve_env(container, secrets)}
    for probe in ("livenessProbe", "readinessProbe"):
        command = [part.replace("redis-cli ping", f"redis-cli -p {port} ping") for part in container[probe]["exec"]["command"]]
        assert subprocess.run(command, env=env, timeout=10).returncode == 0, probe
        wrong = env | {"REDISCLI_AUTH": "not-the-password"}
        assert subprocess.run(command, env=wrong, timeout=10).returncode != 0, f"{probe} passes without the password"
    assert redis_cli(port, "ping", password=password).stdout.strip() == "PONG"


def test_sfu_pod_starts_with_the_pools_secret(chart_redis, tmp_path):
    """`convene sfu` with the chart's Secret (envFrom) and the variables the operator adds to
    every SFU pod (the agreed list in operator/src/pods.rs), from the rendered SfuPool,
    against the in-chart Redis as rendered (password required)."""
    objects, secrets, _, redis_port = chart_redis
    pool = one(objects, "SfuPool", "main")["spec"]
    env = {}
    for source in pool["template"]["envFrom"]:
        for key, value in secrets[source["secretRef"]["name"]].items():
            env[key] = base64.b64decode(value).decode()
    assert set(env) == {"CONVENE_SFU_CONTROL_SECRET", "CONVENE_REDIS_URL"}
    # The in-chart Redis's Service, here the loopback port; the password stays as rendered.
    service = f"@{PREFIX}-redis:6379"
    assert service in env["CONVENE_REDIS_URL"]
    env["CONVENE_REDIS_URL"] = env["CONVENE_REDIS_URL"].replace(service, f"@127.0.0.1:{redis_port}")
    control, media = free_port(), free_port()
    env |= {
        "CONVENE_SFU_NODE_NAME": f"main-{uuid.uuid4().hex[:5]}",
        "CONVENE_SFU_CONTROL_ADDR": f"127.0.0.1:{control}",
        "CONVENE_SFU_CONTROL_URL": f"http://127.0.0.1:{control}",
        "CONVENE_SFU_UDP_ADDR": f"127.0.0.1:{media}",
        "CONVENE_SFU_ADVERTISED_ADDR": f"127.0.0.1:{media}",
        "CONVENE_SFU_MAX_ROOMS": str(pool["capacity"]["rooms"]),
        "CONVENE_SFU_MAX_PARTICIPANTS": str(pool["capacity"]["participants"]),
        "CONVENE_SFU_DRAIN_TIMEOUT_SECONDS": str(pool["drainDeadlineSeconds"]),
        "CONVENE_DATA_DIR": str(tmp_path),
    }
    pods_rs = (REPO / "operator" / "src" / "pods.rs").read_text()
    for name in env:
        if name not in ("CONVENE_SFU_CONTROL_SECRET", "CONVENE_REDIS_URL", "CONVENE_DATA_DIR"):
            assert f'"{name}"' in pods_rs, f"the operator does not set {name} on SFU pods"
    log_path = tmp_path / "sfu.log"
    process = start(["sfu"], env, log_path)
    try:
        wait_for(f"http://127.0.0.1:{control}/readyz", process, log_path)
        status, metrics = get(f"http://127.0.0.1:{control}/metrics")
        assert status == 200 and "convene_sfu_rooms 0" in metrics
        # It authenticated: its registry record is in the password-protected Redis.
        password = base64.b64decode(secrets[f"{PREFIX}-secrets"]["redis-password"]).decode()
        keys = redis_cli(redis_port, "--scan", password=password).stdout
        assert keys.strip(), f"nothing written to the in-chart Redis: {log_path.read_text()}"
        stop(process, pool["drainDeadlineSeconds"] + 30)
        assert process.returncode == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
