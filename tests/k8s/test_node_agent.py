"""The test node agent behaves like a kubelet where c8s relies on it: pods are bound and run, init
containers and emptyDir volumes work, env comes from Secrets and the downward API, pods/log honours
tailLines, timestamps and follow, deleting a pod kills its processes, activeDeadlineSeconds fails it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.k8s.conftest import Kubectl
from tests.k8s.waiting import eventually
from tests.k8s.workloads import gone, pod, shell_container, unique

pytestmark = pytest.mark.k8s

STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (.*)$")


async def run_pod(core: client.CoreV1Api, namespace: str, body: dict[str, Any], phases: set[str]) -> Any:
    name = body["metadata"]["name"]
    await core.create_namespaced_pod(namespace, body)

    async def in_phase() -> Any:
        p = await core.read_namespaced_pod(name, namespace)
        return p if p.status.phase in phases else None

    return await eventually(in_phase, what=f"pod {name} in {sorted(phases)}")


async def test_init_container_emptydir_and_env(k8s_api: client.ApiClient, namespace: str) -> None:
    """An init container's file in an emptyDir is seen by the main container, with env from a Secret."""
    core = client.CoreV1Api(k8s_api)
    secret = {"metadata": {"name": "creds"}, "stringData": {"token": "s3cr3t"}}
    await core.create_namespaced_secret(namespace, secret)
    mount = [{"name": "work", "mountPath": "/workspace"}]
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
           {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    main = shell_container('cat /workspace/state; echo "$TOKEN" $(POD)', volumeMounts=mount, env=env)
    body = pod(unique("init"), main,
               initContainers=[shell_container("echo prepared > /workspace/state", name="prepare",
                                               volumeMounts=mount)],
               volumes=[{"name": "work", "emptyDir": {}}])
    p = await run_pod(core, namespace, body, {"Succeeded", "Failed"})
    assert p.status.phase == "Succeeded"
    assert p.status.init_container_statuses[0].state.terminated.reason == "Completed"
    log = await core.read_namespaced_pod_log(p.metadata.name, namespace, container="main")
    assert log == f"prepared\ns3cr3t {p.metadata.name}\n"


async def test_failed_init_container_fails_the_pod(k8s_api: client.ApiClient, namespace: str) -> None:
    """When an init container exits non-zero the pod fails and its containers never start."""
    core = client.CoreV1Api(k8s_api)
    body = pod(unique("initfail"), shell_container("echo never"),
               initContainers=[shell_container("exit 7", name="prepare")])
    p = await run_pod(core, namespace, body, {"Succeeded", "Failed"})
    assert p.status.phase == "Failed"
    assert p.status.init_container_statuses[0].state.terminated.exit_code == 7
    assert p.status.container_statuses[0].state.terminated is None


async def test_log_tail_and_timestamps(k8s_api: client.ApiClient, namespace: str, kubectl: Kubectl) -> None:
    """pods/log returns the last N lines with tailLines and prefixes RFC 3339 times with timestamps."""
    core = client.CoreV1Api(k8s_api)
    p = await run_pod(core, namespace, pod(unique("logs"), shell_container("printf 'a\\nb\\nc\\n'")),
                      {"Succeeded"})
    name = p.metadata.name
    assert await core.read_namespaced_pod_log(name, namespace, tail_lines=2) == "b\nc\n"
    stamped = (await core.read_namespaced_pod_log(name, namespace, timestamps=True)).splitlines()
    assert [STAMPED.match(line).group(1) for line in stamped] == ["a", "b", "c"]  # type: ignore[union-attr]
    tail = (await kubectl("logs", "-n", namespace, name, "--tail=1", "--timestamps")).stdout
    assert STAMPED.match(tail.rstrip("\n")).group(1) == "c"  # type: ignore[union-attr]


async def test_follow_streams_while_running(k8s_api: client.ApiClient, namespace: str) -> None:
    """A followed log delivers output while the container runs and ends when the pod is deleted."""
    core = client.CoreV1Api(k8s_api)
    p = await run_pod(core, namespace, pod(unique("follow"), shell_container("echo one; exec sleep 600")),
                      {"Running"})
    resp = await core.read_namespaced_pod_log(p.metadata.name, namespace, follow=True, _preload_content=False)
    try:
        assert await resp.content.readline() == b"one\n"
        await core.delete_namespaced_pod(p.metadata.name, namespace)
        assert await resp.content.read() == b""
    finally:
        resp.release()


async def test_deleting_a_pod_kills_it(k8s_api: client.ApiClient, namespace: str) -> None:
    """Deleting a running pod kills its process and the pod is gone once the agent confirms it."""
    core = client.CoreV1Api(k8s_api)
    p = await run_pod(core, namespace, pod(unique("del"), shell_container("exec sleep 600")), {"Running"})
    await core.delete_namespaced_pod(p.metadata.name, namespace)
    await eventually(lambda: gone(core.read_namespaced_pod, p.metadata.name, namespace), what="pod deleted")


async def test_active_deadline_fails_the_pod(k8s_api: client.ApiClient, namespace: str) -> None:
    """A pod running past activeDeadlineSeconds is killed and fails with reason DeadlineExceeded."""
    core = client.CoreV1Api(k8s_api)
    body = pod(unique("deadline"), shell_container("exec sleep 600"), activeDeadlineSeconds=1)
    p = await run_pod(core, namespace, body, {"Failed"})
    assert p.status.reason == "DeadlineExceeded"
    assert p.status.container_statuses[0].state.terminated.exit_code in (137, 143)


async def test_container_without_command_fails(k8s_api: client.ApiClient, namespace: str) -> None:
    """A container with only an image cannot run on the test node: it fails with exit code 127."""
    core = client.CoreV1Api(k8s_api)
    body = pod(unique("nocmd"), {"name": "main", "image": "busybox:1.36"})
    p = await run_pod(core, namespace, body, {"Failed"})
    terminated = p.status.container_statuses[0].state.terminated
    assert terminated.exit_code == 127 and "command" in terminated.message
