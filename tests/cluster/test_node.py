"""The single-node cluster of real parts runs pods in real containers from the local registry.

Covers: a Pod of the step image (made here from Debian packages, pulled by containerd from the
loopback registry) runs in a container and its output comes back through the real kubelet with
``kubectl logs``; a Job's activeDeadlineSeconds makes the kubelet kill its running container; two pods
get distinct IPs on the pod network and one reaches the other over TCP (git daemon / git ls-remote);
a Service name resolves through CoreDNS and is reached through kube-proxy's ClusterIP rules.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import cluster as cluster_mod  # tests/cluster on sys.path (conftest.py)
import node_config
import pytest
from kubernetes_asyncio import client

from tests.k8s.conftest import Kubectl
from tests.k8s.waiting import eventually

pytestmark = pytest.mark.cluster

POD_TIMEOUT = 120.0  # a first pull of the step image (one ~80 MB layer) included
GIT_DAEMON = (
    "mkdir -p /srv/r && cd /srv/r && git init -q && "
    "git -c user.name=t -c user.email=t@example.invalid commit -q --allow-empty -m first && "
    "exec git daemon --reuseaddr --export-all --base-path=/srv --listen=0.0.0.0 --port=9418"
)


def _pod(name: str, image: str, script: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    container = {"name": "main", "image": image, "command": ["sh", "-c", script]}
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"restartPolicy": "Never", "containers": [container], "terminationGracePeriodSeconds": 1}}


async def _phase(core: client.CoreV1Api, ns: str, name: str, phases: set[str]) -> client.V1Pod | None:
    pod = await core.read_namespaced_pod(name, ns)
    return pod if pod.status.phase in phases else None


async def _finished(core: client.CoreV1Api, ns: str, name: str) -> client.V1Pod:
    pod: client.V1Pod = await eventually(lambda: _phase(core, ns, name, {"Succeeded", "Failed"}),
                                         what=f"pod {name} to finish", within=POD_TIMEOUT)
    return pod


async def test_step_image_pod_runs_in_a_container_and_logs_come_through_the_kubelet(
    cluster: cluster_mod.Cluster, k8s_api: client.ApiClient, namespace: str, kubectl: Kubectl
) -> None:
    """A pod of the local registry's step image runs sh and git in a container; kubectl logs shows it."""
    core = client.CoreV1Api(k8s_api)
    script = 'echo "hello from $(hostname)"; git --version; cat /etc/debian_version'
    await core.create_namespaced_pod(namespace, _pod("hello", cluster.image("step"), script))
    pod = await _finished(core, namespace, "hello")
    status = pod.status.container_statuses[0]
    assert pod.status.phase == "Succeeded", status
    assert status.image_id.startswith(f"{cluster.registry}/c8s/step@sha256:"), status.image_id
    logs = (await kubectl("logs", "-n", namespace, "hello")).stdout
    assert logs.splitlines()[0] == "hello from hello"  # the container's own UTS namespace
    assert logs.splitlines()[1].startswith("git version ")


async def test_job_active_deadline_kills_the_running_container(
    cluster: cluster_mod.Cluster, k8s_api: client.ApiClient, namespace: str
) -> None:
    """A Job past its activeDeadlineSeconds fails with DeadlineExceeded and its pod's container is killed."""
    batch, core = client.BatchV1Api(k8s_api), client.CoreV1Api(k8s_api)
    template = _pod("sleeper", cluster.image("step"), "echo started; exec sleep 600")
    template["metadata"] = {"labels": {"app": "sleeper"}}
    job = {"metadata": {"name": "sleeper"},
           "spec": {"activeDeadlineSeconds": 5, "backoffLimit": 0, "template": template}}
    await batch.create_namespaced_job(namespace, job)

    async def running() -> bool:
        pods = (await core.list_namespaced_pod(namespace, label_selector="app=sleeper")).items
        return any(p.status.phase == "Running" for p in pods)

    await eventually(running, what="the Job's pod running", within=POD_TIMEOUT)

    async def failed() -> str | None:
        conditions = (await batch.read_namespaced_job(namespace=namespace, name="sleeper")).status.conditions
        return next((c.reason for c in conditions or [] if c.type == "Failed" and c.status == "True"), None)

    assert await eventually(failed, what="the Job failed", within=60) == "DeadlineExceeded"

    async def container_gone() -> bool:  # the pod object goes only once the kubelet has killed it
        return not (await core.list_namespaced_pod(namespace, label_selector="app=sleeper")).items

    await eventually(container_gone, what="the Job's pod killed and removed", within=60)


async def test_two_pods_get_distinct_ips_and_reach_each_other(
    cluster: cluster_mod.Cluster, k8s_api: client.ApiClient, namespace: str, kubectl: Kubectl
) -> None:
    """Two pods get different pod-network IPs and one lists the other's git repository over TCP."""
    core = client.CoreV1Api(k8s_api)
    await core.create_namespaced_pod(namespace, _pod("server", cluster.image("step"), GIT_DAEMON))
    server = await eventually(lambda: _phase(core, namespace, "server", {"Running"}),
                              what="the git daemon pod running", within=POD_TIMEOUT)
    script = f"until git ls-remote git://{server.status.pod_ip}/r; do sleep 0.2; done"
    await core.create_namespaced_pod(namespace, _pod("client", cluster.image("step"), script))
    client_pod = await _finished(core, namespace, "client")
    assert client_pod.status.phase == "Succeeded"
    subnet = ipaddress.ip_network(node_config.POD_SUBNET)
    ips = {server.status.pod_ip, client_pod.status.pod_ip}
    assert len(ips) == 2 and all(ipaddress.ip_address(ip) in subnet for ip in ips), ips
    assert "\tHEAD" in (await kubectl("logs", "-n", namespace, "client")).stdout


async def test_a_service_name_resolves_through_coredns_and_routes_through_kube_proxy(
    cluster: cluster_mod.Cluster, k8s_api: client.ApiClient, namespace: str, kubectl: Kubectl
) -> None:
    """A pod resolves a Service's cluster.local name to its ClusterIP and reaches the pod behind it."""
    core = client.CoreV1Api(k8s_api)
    server = _pod("gitd", cluster.image("step"), GIT_DAEMON, {"app": "gitd"})
    await core.create_namespaced_pod(namespace, server)
    service = {"metadata": {"name": "gitd"},
               "spec": {"selector": {"app": "gitd"}, "ports": [{"port": 9418, "targetPort": 9418}]}}
    created = await core.create_namespaced_service(namespace, service)
    name = f"gitd.{namespace}.svc.cluster.local"
    script = f"getent hosts {name}; until git ls-remote git://{name}/r; do sleep 0.2; done"
    await core.create_namespaced_pod(namespace, _pod("client", cluster.image("step"), script))
    pod = await _finished(core, namespace, "client")
    logs = (await kubectl("logs", "-n", namespace, "client")).stdout
    assert pod.status.phase == "Succeeded", logs
    assert logs.splitlines()[0].split() == [created.spec.cluster_ip, name]
    assert "\tHEAD" in logs
