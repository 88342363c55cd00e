"""The project's image, built from the repository's Dockerfile on the Debian base made here, runs in
the cluster.

Covers: tests/cluster/c8s-image's archive (buildah, BASE_IMAGE = c8s/python) pushed to the cluster's
registry runs as a pod: its default command (`c8s --help`) succeeds as the non-root uid the
manifests require, and every package pip installs (steps included) imports inside it.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.k8s.conftest import Kubectl
from tests.k8s.waiting import eventually

pytestmark = pytest.mark.cluster

PACKAGES = "api, events, projections, steps, ports, adapters, services, c8s"


def _pod(name: str, image: str, command: list[str] | None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": image}
    if command:
        container["command"] = command
    return {"metadata": {"name": name}, "spec": {"restartPolicy": "Never", "containers": [container]}}


async def _finish(core: client.CoreV1Api, ns: str, name: str) -> client.V1Pod:
    async def done() -> client.V1Pod | None:
        pod = await core.read_namespaced_pod(name, ns)
        return pod if pod.status.phase in {"Succeeded", "Failed"} else None

    pod: client.V1Pod = await eventually(done, what=f"pod {name} to finish", within=180)
    return pod


async def test_the_image_runs_its_default_command_as_the_manifests_user(
    c8s_image: str, k8s_api: client.ApiClient, namespace: str, kubectl: Kubectl
) -> None:
    """The image's CMD (c8s --help) exits 0 in a real container, as uid 10001."""
    core = client.CoreV1Api(k8s_api)
    await core.create_namespaced_pod(namespace, _pod("help", c8s_image, None))
    pod = await _finish(core, namespace, "help")
    logs = (await kubectl("logs", "-n", namespace, "help")).stdout
    assert pod.status.phase == "Succeeded", (logs, pod.status.container_statuses[0].state.terminated)
    assert "usage: c8s" in logs


async def test_every_installed_package_imports_in_the_image(
    c8s_image: str, k8s_api: client.ApiClient, namespace: str, kubectl: Kubectl
) -> None:
    """Each top-level package of pyproject imports in the image (one the Dockerfile forgot would not)."""
    core = client.CoreV1Api(k8s_api)
    script = f"import os, {PACKAGES}; print('uid', os.getuid())"
    await core.create_namespaced_pod(namespace, _pod("imports", c8s_image, ["python", "-c", script]))
    pod = await _finish(core, namespace, "imports")
    logs = (await kubectl("logs", "-n", namespace, "imports")).stdout
    assert pod.status.phase == "Succeeded", logs
    assert logs.strip() == "uid 10001"
