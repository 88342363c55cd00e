"""deploy/450-network-policies.yaml, enforced on real nodes: step pods reach nothing in c8s-system
but the artifact upload port.

Covers (kube-router's policy controller enforcing, cluster.py): with the policies of deploy/ applied
to a stand-in of c8s-system (the same objects, only their namespace changed, so the test owns it),
and listeners on NATS's client port behind a `nats` Service, on a service's metrics port and on the
job-watcher's upload port, labelled as deploy/ labels them:
- a pod of c8s-system reaches all three (the policies do not cut c8s off from itself);
- a step pod of a team namespace (labelled app.kubernetes.io/managed-by=c8s, as steps/job_manifest.py
  labels every step pod) cannot reach NATS by its Service name nor a metrics port, and does reach the
  upload endpoint;
- any other pod of a team namespace reaches none of them.
Every refusal is checked only after a permitted client reached the same listener, so "refused" can't
mean "not listening yet"; permitted clients retry until kube-router has added their new address to
its sets (a policy applies to a pod from its first packet only once the controller has synced it).
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path
from typing import Any

import cluster as cluster_mod  # tests/cluster on sys.path (conftest.py)
import pytest
import yaml
from kubernetes_asyncio import client

from steps.job_manifest import LABEL_MANAGED_BY
from tests.k8s.conftest import Kubectl
from tests.k8s.waiting import eventually

pytestmark = pytest.mark.cluster

POLICIES = Path(__file__).resolve().parents[2] / "deploy" / "450-network-policies.yaml"
POD_TIMEOUT = 120.0
NATS, METRICS, UPLOADS = 4222, 9090, 8090
#: listener pods of the stand-in c8s-system: name -> (labels as deploy/ sets them, port)
LISTENERS = {
    "nats-0": ({"app.kubernetes.io/name": "nats", "app.kubernetes.io/component": "bus"}, NATS),
    "scheduler": ({"app.kubernetes.io/name": "c8s", "app.kubernetes.io/component": "scheduler"}, METRICS),
    "job-watcher": ({"app.kubernetes.io/name": "c8s", "app.kubernetes.io/component": "job-watcher"}, UPLOADS),
}
#: bash: "<target> REACHED" or "<target> REFUSED (...)", one line per target; with UNTIL=1 each
#: target is retried for up to 60 s until it answers (a permitted client waiting for its rules).
PROBE = r"""
probe() {
  for i in $(seq 1 $1); do
    if out=$(timeout 2 bash -c "echo > /dev/tcp/$2/$3" 2>&1); then echo "$2:$3 REACHED"; return; fi
    sleep 0.5
  done
  echo "$2:$3 REFUSED ($(echo $out | tr '\n' ' '))"
}
tries=3; [ "$UNTIL" = 1 ] && tries=120
for target in $TARGETS; do probe $tries ${target%:*} ${target#*:}; done
"""


def _pod(name: str, image: str, script: str, labels: dict[str, str], env: dict[str, str]) -> dict[str, Any]:
    container = {"name": "main", "image": image, "command": ["bash", "-c", script],
                 "env": [{"name": k, "value": v} for k, v in env.items()]}
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"restartPolicy": "Never", "containers": [container], "terminationGracePeriodSeconds": 1}}


def _listener(port: int) -> str:
    return ("mkdir -p /srv && exec git daemon --reuseaddr --export-all --base-path=/srv "
            f"--listen=0.0.0.0 --port={port}")


def _policies_in(namespace: str) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(POLICIES.read_text()) if d]
    assert {d["kind"] for d in docs} == {"NetworkPolicy"} and len(docs) >= 5, docs
    for d in docs:
        assert d["metadata"]["namespace"] == "c8s-system"
        d["metadata"]["namespace"] = namespace
    return docs


async def _phase(core: client.CoreV1Api, ns: str, name: str, phases: set[str]) -> client.V1Pod | None:
    pod = await core.read_namespaced_pod(name, ns)
    return pod if pod.status.phase in phases else None


async def _guarded(ns: str, pod: str) -> bool:
    """kube-router has a firewall chain for the pod (its policies apply from now on)."""
    rules = await asyncio.to_thread(
        subprocess.run, ["iptables-save", "-t", "filter"], capture_output=True, text=True, check=True)
    return f"POD name:{pod} namespace: {ns} " in rules.stdout


async def _listening(core: client.CoreV1Api, ns: str, name: str) -> str:
    """The listener pod's IP once it runs and kube-router guards it."""
    pod = await eventually(lambda: _phase(core, ns, name, {"Running"}), what=f"listener {name} running",
                           within=POD_TIMEOUT)
    await eventually(lambda: _guarded(ns, name), what=f"kube-router guarding {name}", within=60)
    ip: str = pod.status.pod_ip
    return ip


async def _probe(core: client.CoreV1Api, kubectl: Kubectl, image: str, ns: str, name: str,
                 labels: dict[str, str], targets: list[str], until: bool) -> dict[str, str]:
    env = {"TARGETS": " ".join(targets), "UNTIL": "1" if until else "0"}
    await core.create_namespaced_pod(ns, _pod(name, image, PROBE, labels, env))
    await eventually(lambda: _phase(core, ns, name, {"Succeeded", "Failed"}), what=f"probe {name} to finish",
                     within=POD_TIMEOUT + 60 * len(targets))
    lines = (await kubectl("logs", "-n", ns, name)).stdout.splitlines()
    return {line.split()[0]: " ".join(line.split()[1:]) for line in lines if line.strip()}


async def test_step_pods_reach_only_the_upload_port_of_c8s_system(
    cluster: cluster_mod.Cluster, k8s_api: client.ApiClient, namespace: str, kubectl: Kubectl
) -> None:
    """c8s-system reaches itself; a step pod reaches only the uploads; another pod reaches nothing."""
    core = client.CoreV1Api(k8s_api)
    system = f"c8s-system-{uuid.uuid4().hex[:6]}"
    await core.create_namespace({"metadata": {"name": system}})
    try:
        await _run(cluster, core, kubectl, system, namespace)
    finally:
        await core.delete_namespace(system)


async def _run(cluster: cluster_mod.Cluster, core: client.CoreV1Api, kubectl: Kubectl, system: str,
               team: str) -> None:
    networking = client.NetworkingV1Api(core.api_client)
    for policy in _policies_in(system):
        await networking.create_namespaced_network_policy(system, policy)
    image = cluster.image("step")
    for name, (labels, port) in LISTENERS.items():
        await core.create_namespaced_pod(system, _pod(name, image, _listener(port), labels, {}))
    service = {"metadata": {"name": "nats"},
               "spec": {"selector": LISTENERS["nats-0"][0], "ports": [{"port": NATS, "targetPort": NATS}]}}
    await core.create_namespaced_service(system, service)
    ips = {name: await _listening(core, system, name) for name in LISTENERS}
    nats = f"nats.{system}.svc.cluster.local:{NATS}"
    metrics, uploads = f"{ips['scheduler']}:{METRICS}", f"{ips['job-watcher']}:{UPLOADS}"
    everything = [nats, metrics, uploads]

    inside = await _probe(core, kubectl, image, system, "c8s-service", {}, everything, until=True)
    assert inside == dict.fromkeys(everything, "REACHED"), inside
    step = await _probe(core, kubectl, image, team, "step", {LABEL_MANAGED_BY: "c8s"}, [uploads], until=True)
    assert step == {uploads: "REACHED"}, step

    step = await _probe(core, kubectl, image, team, "step-to-bus", {LABEL_MANAGED_BY: "c8s"}, [nats, metrics],
                        until=False)
    other = await _probe(core, kubectl, image, team, "other", {}, everything, until=False)
    assert {t: r.split()[0] for t, r in step.items()} == {nats: "REFUSED", metrics: "REFUSED"}, step
    assert {t: r.split()[0] for t, r in other.items()} == dict.fromkeys(everything, "REFUSED"), other
