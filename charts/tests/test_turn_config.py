"""coturn's configuration: the chart's copy is turn/'s production template, the init
container's substitution really writes the secret (run with /bin/sh and sed here), and the
real coturn (Debian's, on loopback) accepts the result, authenticates the credentials the
gateways hand out, refuses private peers by default and relays to the allowed pod range."""

import base64
import hashlib
import hmac
import os
import re
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
    return rendered_config_from(documents(render(CASES[case])), tmp_path)


def rendered_config_from(objects, tmp_path):
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


def loopback_config(config, tmp_path, port):
    """The rendered config, changed only as this machine needs: loopback addresses and a free
    port, writable pid and database paths. `allow-loopback-peers` lifts coturn's separate
    loopback check only; `denied-peer-ip` (127.0.0.0/8 among the private ranges) still
    applies, which is what these tests exercise. Debian's coturn is built without Prometheus
    support (the coturn/coturn image has it) and would refuse only that line."""
    config = config.replace('pidfile="/var/run/coturn/turnserver.pid"', f'pidfile="{tmp_path}/turnserver.pid"')
    config = config.replace('userdb="/var/lib/coturn/turndb"', f'userdb="{tmp_path}/turndb"')
    config = config.replace("\nprometheus\n", "\n")
    return config + f"\nlistening-ip=127.0.0.1\nrelay-ip=127.0.0.1\nlistening-port={port}\nallow-loopback-peers\n"


class Coturn:
    def __init__(self, config, tmp_path):
        self.port = free_port()
        path = tmp_path / "turnserver.conf"
        path.write_text(loopback_config(config, tmp_path, self.port))
        self.log_path = tmp_path / "coturn.log"
        self.process = subprocess.Popen(
            ["turnserver", "-c", str(path)], stdout=self.log_path.open("w"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while True:
            assert self.process.poll() is None, self.log()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                assert time.monotonic() < deadline, self.log()
                time.sleep(0.1)

    def log(self):
        return self.log_path.read_text()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)

    def relay_between_two_clients(self, secret):
        """turnutils_uclient -y: two allocations that send to each other's relayed address
        (a loopback peer). Credentials as the gateways hand them out (TURN REST scheme)."""
        username = f"{int(time.time()) + 3600}:alice"
        password = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
        return subprocess.run(
            ["turnutils_uclient", "-y", "-n", "3", "-m", "1", "-p", str(self.port), "-u", username, "-w", password,
             "127.0.0.1"],
            capture_output=True, text=True, timeout=60,
        )


needs_coturn = pytest.mark.skipif(
    shutil.which("turnserver") is None or shutil.which("turnutils_uclient") is None,
    reason="coturn is not installed (apt-get install coturn)",
)


@needs_coturn
def test_real_coturn_accepts_the_config_and_denies_private_peers(tmp_path):
    """The chart's default config: coturn starts with no line refused, authenticates the
    gateway's credentials, and refuses to relay to a private (here loopback) peer."""
    config, secret = rendered_config("defaults", tmp_path)
    coturn = Coturn(config, tmp_path)
    try:
        result = coturn.relay_between_two_clients(secret)
        output = result.stdout + result.stderr
        assert "403 (Forbidden IP)" in output, output
        assert "401" not in output, output
        log = coturn.log()
        assert "Bad configuration format" not in log, log
        assert "denied in the range: 127.0.0.0-127.255.255.255" in log, log
        errors = [line for line in log.splitlines() if "ERROR" in line and "denied in the range" not in line]
        assert errors == [], log
    finally:
        coturn.stop()


@needs_coturn
def test_real_coturn_relays_to_the_allowed_pod_range(tmp_path):
    """With turn.allowedPeerIPs (what SfuPool exposure Turn needs) coturn relays to exactly
    that range, the rest of the private ranges still denied."""
    case = CASES["turn-exposure"]
    # No external-ip: on loopback the relayed addresses are the real ones.
    values = {**case, "turn": {**case["turn"], "allowedPeerIPs": ["127.0.0.1"], "externalIP": ""}}
    objects = documents(render(values))
    template = one(objects, "ConfigMap", f"{PREFIX}-turn")["data"]["turnserver.conf.template"]
    assert "allowed-peer-ip=127.0.0.1" in template and "denied-peer-ip=127.0.0.0-127.255.255.255" in template
    config, secret = rendered_config_from(objects, tmp_path)
    coturn = Coturn(config, tmp_path)
    try:
        result = coturn.relay_between_two_clients(secret)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        # The final totals (progress lines come first).
        sent, received = map(int, re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", output)[-1])
        assert "Forbidden IP" not in output, output
        assert sent > 0 and received == sent, output
    finally:
        coturn.stop()
