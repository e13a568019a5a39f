"""coturn's configuration: the chart's copy is turn/'s production template, the init
container's substitution really writes the secret (run with /bin/sh and sed here), and the
result is a configuration the real coturn accepts."""

import base64
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import CASES, CHART, REPO, RELEASE, one, render, documents

PREFIX = f"{RELEASE}-convene"


def test_chart_copy_is_the_turn_template():
    chart_copy = (CHART / "files" / "turnserver.conf.template").read_text()
    assert chart_copy == (REPO / "turn" / "turnserver.conf.template").read_text(), (
        "charts/convene/files/turnserver.conf.template must equal turn/turnserver.conf.template: "
        "cp turn/turnserver.conf.template charts/convene/files/"
    )


def rendered_config(case, tmp_path):
    """Runs the init container's command against the rendered ConfigMap with the rendered
    Secret's value; returns (config text, secret)."""
    objects = documents(render(CASES[case]))
    template = one(objects, "ConfigMap", f"{PREFIX}-turn")["data"]["turnserver.conf.template"]
    secret = base64.b64decode(one(objects, "Secret", f"{PREFIX}-secrets")["data"]["turn-secret"]).decode()
    deployment = one(objects, "Deployment", f"{PREFIX}-turn")
    init = deployment["spec"]["template"]["spec"]["initContainers"][0]
    (tmp_path / "template").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "template" / "turnserver.conf.template").write_text(template)
    command = [part.replace("/etc/coturn/", f"{tmp_path}/") for part in init["command"]]
    subprocess.run(command, check=True, env={"PATH": os.environ["PATH"], "TURN_SECRET": secret}, timeout=10)
    return (tmp_path / "run" / "turnserver.conf").read_text(), secret


@pytest.mark.parametrize("case", ["defaults", "turn-exposure"])
def test_init_container_writes_the_secret_into_the_config(case, tmp_path):
    config, secret = rendered_config(case, tmp_path)
    lines = config.splitlines()
    assert f"static-auth-secret={secret}" in lines
    assert sum(secret in line for line in lines) == 1, "the secret appears once, on its line"
    assert "${" not in "\n".join(line for line in lines if not line.startswith("#"))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(shutil.which("turnserver") is None, reason="coturn is not installed (apt-get install coturn)")
def test_real_coturn_starts_with_the_rendered_config(tmp_path):
    """Starts the real coturn on loopback with the chart's default config (listening address,
    port, pid file and database path overridden for this machine) and waits until it accepts
    TCP, with no line of the config refused."""
    config, _ = rendered_config("defaults", tmp_path)
    config = config.replace('pidfile="/var/run/coturn/turnserver.pid"', f'pidfile="{tmp_path}/turnserver.pid"')
    port = free_port()
    config = config.replace('userdb="/var/lib/coturn/turndb"', f'userdb="{tmp_path}/turndb"')
    # Debian's coturn is built without Prometheus support (the coturn/coturn image has it) and
    # would refuse only that line.
    config = config.replace("\nprometheus\n", "\n")
    config += f"\nlistening-ip=127.0.0.1\nrelay-ip=127.0.0.1\nlistening-port={port}\n"
    path = tmp_path / "turnserver.conf"
    path.write_text(config)
    log = (tmp_path / "coturn.log").open("w")
    process = subprocess.Popen(["turnserver", "-c", str(path)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, (tmp_path / "coturn.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "coturn.log").read_text()
                time.sleep(0.1)
        output = (tmp_path / "coturn.log").read_text()
        assert "Bad configuration format" not in output and "ERROR" not in output, output
    finally:
        process.terminate()
        process.wait(timeout=10)
