#!/usr/bin/env python3
"""The real `convene-operator` binary over HTTP against kmock's in-memory Kubernetes emulator
and a throwaway Redis: the Controller's watches, the Lease, pod creation, status, events,
a pool whose pods have no node record taken for a registry outage (nothing drained or
deleted for silence, a failed pod still replaced) and SIGTERM.

With a `convene` binary as the second argument, a second pool's pods are played by real
`convene sfu` processes (the kubelet's part, by hand): the operator drains one through the
bus and deletes it once the node reports draining, replaces one whose process was killed
once it has seen it silent for the grace (the other still heartbeating), releasing its node
in the bus, and rolls the pool over to a new image.

kmock is a fake, not a cluster: it does not validate against the CRD, ignores label
selectors, runs no kubelet (pods never start; this script plays the kubelet by patching
their status) and does not check resourceVersion preconditions. A pass says the operator's
wiring talks plain Kubernetes HTTP end to end; it says nothing about a real apiserver.

    script/test-chart -k kmock   # (the suite runs it so; a venv by hand works too:)
    python3 -m venv /tmp/kmock-venv && /tmp/kmock-venv/bin/pip install kmock==0.8
    cargo build -p convene-operator
    /tmp/kmock-venv/bin/python operator/tests/kmock_smoke.py [convene-operator [convene]]
"""

import asyncio
import datetime
import itertools
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import uuid

import kmock

NAMESPACE = "convene"
POOLS = "convene.dev/v1alpha1/sfupools"
PODS = "v1/pods"
LEASES = "coordination.k8s.io/v1/leases"
EVENTS = "events.k8s.io/v1/events"


class Emulator(kmock.KubernetesEmulator):
    """Gives stored objects what a real apiserver would: uid, resourceVersion, generation,
    creationTimestamp (kube's watcher and owner references need them)."""

    _versions = itertools.count(1)

    async def _handle(self, request):
        data = request.data if isinstance(request.data, dict) else None
        if data is not None and request.action in (kmock.action.CREATE, kmock.action.UPDATE):
            meta = data.setdefault("metadata", {})
            meta["resourceVersion"] = str(next(self._versions))
            if request.action == kmock.action.CREATE:
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("generation", 1)
                meta.setdefault("creationTimestamp", now())
        return await super()._handle(request)


def now():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def live(emulator, resource):
    found = []
    for key in list(emulator.objects):
        if str(key[0]) != str(kmock.resource(resource)):
            continue
        obj = emulator.objects[key]
        if not obj.deleted:
            found.append(obj.raw)
    return found


async def wait_for(what, check, timeout=30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def patch(server, path, body):
    async with server.client.patch(path, json=body,
                                   headers={"content-type": "application/merge-patch+json"}) as response:
        assert response.status < 300, await response.text()


async def play_kubelet_ready(server, name):
    await patch(server, f"/api/v1/namespaces/{NAMESPACE}/pods/{name}", {"status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now()}],
    }})


def start_sfu(convene, pod_name, redis_port, workdir):
    """`convene sfu` as the pod `pod_name` would run it (the operator's env, on loopback)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CONVENE_REDIS_URL": f"redis://127.0.0.1:{redis_port}",
        "CONVENE_SFU_NODE_NAME": pod_name,
        "CONVENE_SFU_CONTROL_SECRET": "control-secret-0123456789",
        "CONVENE_SFU_CONTROL_ADDR": f"127.0.0.1:{free_port()}",
        "CONVENE_SFU_UDP_ADDR": "127.0.0.1:0",
        "CONVENE_SFU_MAX_ROOMS": "20",
        "CONVENE_SFU_MAX_PARTICIPANTS": "200",
        "CONVENE_SFU_DRAIN_TIMEOUT_SECONDS": "60",
        "CONVENE_DATA_DIR": str(workdir / f"data-{pod_name}"),
        "CONVENE_LOG_FORMAT": "json",
    }
    log = open(workdir / f"sfu-{pod_name}.log", "w")
    return subprocess.Popen([convene, "sfu"], env=env, stdout=log, stderr=subprocess.STDOUT)


async def sfu_phase(emulator, server, convene, redis_port, workdir):
    def media_pool():
        return [p for p in live(emulator, POOLS) if p["metadata"]["name"] == "media"][0]

    def media_pods():
        return [p for p in live(emulator, PODS) if p["metadata"]["labels"]["convene.dev/sfupool"] == "media"]

    def summary(name):
        pods = (media_pool().get("status") or {}).get("pods") or []
        return next((p for p in pods if p["name"] == name), None)

    async with server.client.post(f"/apis/convene.dev/v1alpha1/namespaces/{NAMESPACE}/sfupools", json={
        "apiVersion": "convene.dev/v1alpha1", "kind": "SfuPool",
        "metadata": {"name": "media", "namespace": NAMESPACE},
        "spec": {"replicas": 2, "minReplicas": 0, "maxReplicas": 4,
                 "capacity": {"rooms": 20, "participants": 200},
                 "template": {"image": "ghcr.io/convene-dev/convene:0.1.0"}},
    }) as response:
        assert response.status < 300, await response.text()
    pods = await wait_for("2 media pods", lambda: (p := media_pods()) and len(p) == 2 and p)
    names = sorted(p["metadata"]["name"] for p in pods)
    processes = {name: start_sfu(convene, name, redis_port, workdir) for name in names}
    try:
        for name in names:
            await play_kubelet_ready(server, name)
        for name in names:
            await wait_for(f"{name}'s node in the status", lambda: (s := summary(name)) and s.get("nodeId"))
        print("real SFU nodes registered:", {n: summary(n)["nodeId"] for n in names})

        # One node's process dies without a word while the other heartbeats: the operator
        # annotates its pod heartbeat-missing-since, and once it has seen it silent for the
        # grace, replaces the pod and forgets the node.
        victim, survivor = names
        killed_at = asyncio.get_running_loop().time()
        processes[victim].kill()
        processes[victim].wait()
        await wait_for(f"{victim} annotated silent", lambda: [
            p for p in media_pods() if p["metadata"]["name"] == victim
            and "convene.dev/heartbeat-missing-since" in (p["metadata"].get("annotations") or {})])
        replacement = await wait_for("a replacement for the silent pod", lambda: [
            p for p in media_pods() if p["metadata"]["name"] not in names])
        log = (workdir / "operator.log").read_text()
        assert f"deleted pod {victim} (NoHeartbeat" in log, log
        assert "NodeForgotten" in log or "stopped heartbeating" in log, log
        print(f"killed {victim}'s node: pod replaced by {replacement[0]['metadata']['name']}, node forgotten "
              f"({asyncio.get_running_loop().time() - killed_at:.1f} s after the kill, grace 8 s)")
        fresh = replacement[0]["metadata"]["name"]
        processes[fresh] = start_sfu(convene, fresh, redis_port, workdir)
        await play_kubelet_ready(server, fresh)
        await wait_for(f"{fresh}'s node in the status", lambda: (s := summary(fresh)) and s.get("nodeId"))

        # Scale to 1: one is drained through the bus; the real node reports draining, and
        # only then is its pod deleted.
        scaled_at = asyncio.get_running_loop().time()
        await patch(server, f"/apis/convene.dev/v1alpha1/namespaces/{NAMESPACE}/sfupools/media",
                    {"spec": {"replicas": 1}})
        survivors = await wait_for("one media pod left", lambda: (p := media_pods()) and len(p) == 1 and p)
        kept = survivors[0]["metadata"]["name"]
        drained = [n for n in (survivor, fresh) if n != kept][0]
        log = (workdir / "operator.log").read_text()
        assert f"deleted pod {drained} (Drained, 0 rooms)" in log, log
        sfu_log = (workdir / f"sfu-{drained}.log").read_text()
        assert "drain requested" in sfu_log, sfu_log
        print(f"drained {drained}: its node followed the drain request, then the pod was deleted "
              f"({asyncio.get_running_loop().time() - scaled_at:.1f} s after the scale-down)")
        processes.pop(drained).terminate()

        # A new image rolls the pool over: a real node on the new template first, then the
        # old node is asked to drain through the bus and its pod deleted once it reports so.
        old_pod = kept
        changed_at = asyncio.get_running_loop().time()
        await patch(server, f"/apis/convene.dev/v1alpha1/namespaces/{NAMESPACE}/sfupools/media",
                    {"spec": {"template": {"image": "ghcr.io/convene-dev/convene:0.2.0"}}})
        new_pods = await wait_for("an up-to-date media pod", lambda: [
            p for p in media_pods() if p["metadata"]["name"] != old_pod])
        new_pod = new_pods[0]["metadata"]["name"]
        processes[new_pod] = start_sfu(convene, new_pod, redis_port, workdir)
        await play_kubelet_ready(server, new_pod)
        await wait_for(f"{old_pod} gone", lambda: [p["metadata"]["name"] for p in media_pods()] == [new_pod])
        log = (workdir / "operator.log").read_text()
        assert f"deleted pod {old_pod} (Drained, 0 rooms)" in log, log
        assert "RolloutDrain" in log and "RolloutCreate" in log, log
        sfu_log = (workdir / f"sfu-{old_pod}.log").read_text()
        assert "drain requested" in sfu_log, sfu_log
        status = await wait_for("the media rollout complete", lambda: (s := media_pool().get("status") or {}) and [
            c for c in s.get("conditions", []) if c["type"] == "Progressing" and c["status"] == "False"] and s)
        assert status["updatedReplicas"] == 1, status
        print(f"new image: {new_pod} created, {old_pod}'s real node drained through the bus and its pod deleted "
              f"({asyncio.get_running_loop().time() - changed_at:.1f} s after the template change)")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


async def main(binary, convene=None):
    redis_port = free_port()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="convene-operator-kmock-"))
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )
    operator = None
    # Redis listens before anything connects to it: the bus does not retry a first
    # connection that failed (see docs/operator.md, known issues).
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", redis_port), timeout=0.1).close()
            break
        except OSError:
            await asyncio.sleep(0.02)
    try:
        async with Emulator() as emulator, kmock.Server(emulator) as server:
            for resource in (POOLS, PODS, LEASES, EVENTS):
                emulator.resources[resource] = kmock.ResourceInfo(namespaced=True)
            kubeconfig = workdir / "kubeconfig"
            kubeconfig.write_text(json.dumps({
                "apiVersion": "v1", "kind": "Config", "current-context": "kmock",
                "clusters": [{"name": "kmock", "cluster": {"server": str(server.url).rstrip("/")}}],
                "users": [{"name": "kmock", "user": {"token": "kmock"}}],
                "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock", "namespace": NAMESPACE}}],
            }))
            http_port = free_port()
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(workdir),
                "KUBECONFIG": str(kubeconfig),
                "POD_NAMESPACE": NAMESPACE,
                "POD_NAME": "convene-operator-0",
                "CONVENE_REDIS_URL": f"redis://127.0.0.1:{redis_port}",
                "CONVENE_OPERATOR_HTTP_ADDR": f"127.0.0.1:{http_port}",
                "CONVENE_OPERATOR_REQUEUE_SECONDS": "1",
                "CONVENE_OPERATOR_HEARTBEAT_GRACE_SECONDS": "8",
                "CONVENE_OPERATOR_LOG_FORMAT": "text",
                "CONVENE_OPERATOR_LOG": "info,kube=warn",
            }
            log = open(workdir / "operator.log", "w")
            operator = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)

            async with server.client.post(f"/apis/convene.dev/v1alpha1/namespaces/{NAMESPACE}/sfupools", json={
                "apiVersion": "convene.dev/v1alpha1", "kind": "SfuPool",
                "metadata": {"name": "main", "namespace": NAMESPACE},
                "spec": {"replicas": 2, "minReplicas": 1, "maxReplicas": 10, "drainDeadlineSeconds": 3600,
                         "capacity": {"rooms": 20, "participants": 200},
                         "template": {"image": "ghcr.io/convene-dev/convene:0.1.0",
                                      "envFrom": [{"secretRef": {"name": "convene-sfu"}}]}},
            }) as response:
                assert response.status < 300, await response.text()

            lease = await wait_for("the Lease", lambda: live(emulator, LEASES))
            assert lease[0]["spec"]["holderIdentity"] == "convene-operator-0", lease
            print("lease held by", lease[0]["spec"]["holderIdentity"])

            pods = await wait_for("2 pods", lambda: (p := live(emulator, PODS)) and len(p) == 2 and p)
            for pod in pods:
                assert pod["metadata"]["labels"]["convene.dev/sfupool"] == "main"
                assert pod["metadata"]["ownerReferences"][0]["kind"] == "SfuPool"
                assert pod["spec"]["containers"][0]["args"] == ["sfu"]
            print("pods created:", sorted(p["metadata"]["name"] for p in pods))

            def pool():
                return live(emulator, POOLS)[0]
            status = await wait_for("a status with 2 replicas",
                                    lambda: (pool().get("status") or {}).get("replicas") == 2 and pool()["status"])
            assert status["selector"] == "convene.dev/sfupool=main", status
            assert {c["type"] for c in status["conditions"]} == {"Ready", "ScalingLimited", "Degraded", "Progressing"}
            print("status:", {k: status[k] for k in ("replicas", "readyReplicas", "utilization")},
                  [(c["type"], c["status"], c["reason"]) for c in status["conditions"]])

            events = await wait_for("a ScalingUp event",
                                    lambda: [e for e in live(emulator, EVENTS) if e.get("reason") == "ScalingUp"])
            print("event:", events[0]["reason"], "-", events[0]["note"])

            # Play the kubelet: both pods run and are ready.
            for pod in pods:
                name = pod["metadata"]["name"]
                async with server.client.patch(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}", json={"status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now()}],
                }}, headers={"content-type": "application/merge-patch+json"}) as response:
                    assert response.status < 300, await response.text()
            await wait_for("2 ready replicas", lambda: (pool().get("status") or {}).get("readyReplicas") == 2)

            # No node of this pool ever heartbeats: with every pod ready and no record in
            # the bus, the operator takes it for a registry outage (a Redis restart), not
            # dead pods: Degraded/RegistryUnavailable, one event, nothing deleted for silence.
            status = await wait_for("Degraded RegistryUnavailable", lambda: (s := pool().get("status") or {}) and [
                c for c in s.get("conditions", []) if c["type"] == "Degraded" and c["reason"] == "RegistryUnavailable"
            ] and s)
            outage_events = [e for e in live(emulator, EVENTS) if e.get("reason") == "RegistryUnavailable"]
            assert len(outage_events) == 1, outage_events
            print("registry outage reported:", outage_events[0]["note"])

            # A pod fails: Kubernetes' word still counts; it is replaced.
            failed = pods[0]["metadata"]["name"]
            async with server.client.patch(f"/api/v1/namespaces/{NAMESPACE}/pods/{failed}",
                                           json={"status": {"phase": "Failed", "reason": "Evicted"}},
                                           headers={"content-type": "application/merge-patch+json"}) as response:
                assert response.status < 300, await response.text()
            originals = {p["metadata"]["name"] for p in pods}
            replaced = await wait_for("a replacement", lambda: [
                p for p in live(emulator, PODS) if p["metadata"]["name"] not in originals])
            print("failed pod", failed, "replaced by", replaced[0]["metadata"]["name"])

            # A scale-down while the load is unknown drains nothing: 3 s of reconciles (every
            # 1 s) later, the surviving ready pod is still there and not draining.
            async with server.client.patch(f"/apis/convene.dev/v1alpha1/namespaces/{NAMESPACE}/sfupools/main",
                                           json={"spec": {"replicas": 1}},
                                           headers={"content-type": "application/merge-patch+json"}) as response:
                assert response.status < 300, await response.text()
            await asyncio.sleep(3)
            kept = [p for p in live(emulator, PODS) if p["metadata"]["name"] == pods[1]["metadata"]["name"]]
            assert kept and "convene.dev/draining-since" not in (kept[0]["metadata"].get("annotations") or {}), kept
            reasons = [e.get("reason") for e in live(emulator, EVENTS)]
            for reason in ("ScalingDown", "Drained", "NoHeartbeat"):
                assert reason not in reasons, reasons
            print("during the outage: nothing drained or deleted for silence; events:", sorted(set(reasons)))

            if convene is not None:
                await sfu_phase(emulator, server, convene, redis_port, workdir)

            operator.send_signal(signal.SIGTERM)
            code = await asyncio.get_running_loop().run_in_executor(None, lambda: operator.wait(timeout=20))
            assert code == 0, f"exit code {code}"
            lease = live(emulator, LEASES)[0]
            assert not lease["spec"].get("holderIdentity"), lease
            print("SIGTERM: exit 0, lease released")
            print(f"PASS (log: {workdir / 'operator.log'})")
    finally:
        if operator is not None and operator.poll() is None:
            operator.kill()
            operator.wait()
        redis.terminate()
        redis.wait()


if __name__ == "__main__":
    default = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "debug" / "convene-operator"
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else str(default),
                     sys.argv[2] if len(sys.argv) > 2 else None))
