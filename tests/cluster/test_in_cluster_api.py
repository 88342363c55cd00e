"""Pods reach the apiserver through the ``kubernetes`` Service with their service account.

Covers: the plane's apiserver, started by tests/cluster with the node's IP as its advertise address,
is the endpoint of default/kubernetes (10.0.0.1:443 through kube-proxy); a pod of the c8s image
builds its client the way the services do in a cluster (adapters.kube.client.api_client: no
kubeconfig, so the in-cluster service-account configuration: token, CA and
KUBERNETES_SERVICE_HOST from the kubelet) and lists the ConfigMaps of its namespace, which a Role
lets its service account read.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.k8s.conftest import Kubectl
from tests.k8s.waiting import eventually

pytestmark = pytest.mark.cluster

POD_TIMEOUT = 180.0  # a first pull of the c8s image included
LIST_CONFIGMAPS = """
import asyncio
from kubernetes_asyncio import client
from adapters.kube.client import KubeSettings, api_client

async def main():
    api = await api_client(KubeSettings())
    namespace = open('/var/run/secrets/kubernetes.io/serviceaccount/namespace').read()
    found = await client.CoreV1Api(api).list_namespaced_config_map(namespace)
    print('configmaps:', ' '.join(sorted(c.metadata.name for c in found.items)))
    await api.close()

asyncio.run(main())
"""


def _read_configmaps(namespace: str) -> tuple[dict[str, Any], dict[str, Any]]:
    role = {"metadata": {"name": "read-configmaps", "namespace": namespace},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]}
    binding = {"metadata": {"name": "read-configmaps", "namespace": namespace},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": "read-configmaps"},
               "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}]}
    return role, binding


async def test_a_pod_lists_configmaps_through_the_kubernetes_service_with_its_token(
    c8s_image: str, k8s_api: client.ApiClient, namespace: str, kubectl: Kubectl
) -> None:
    core, rbac = client.CoreV1Api(k8s_api), client.RbacAuthorizationV1Api(k8s_api)
    role, binding = _read_configmaps(namespace)
    await rbac.create_namespaced_role(namespace, role)
    await rbac.create_namespaced_role_binding(namespace, binding)
    await core.create_namespaced_config_map(namespace, {"metadata": {"name": "seen-from-a-pod"}})
    container = {"name": "main", "image": c8s_image, "command": ["python", "-c", LIST_CONFIGMAPS]}
    pod = {"metadata": {"name": "lister"}, "spec": {"restartPolicy": "Never", "containers": [container]}}
    await core.create_namespaced_pod(namespace, pod)

    async def finished() -> client.V1Pod | None:
        got = await core.read_namespaced_pod("lister", namespace)
        return got if got.status.phase in {"Succeeded", "Failed"} else None

    done = await eventually(finished, what="pod lister to finish", within=POD_TIMEOUT)
    logs = (await kubectl("logs", "-n", namespace, "lister")).stdout
    assert done.status.phase == "Succeeded", logs
    assert "seen-from-a-pod" in logs.split("configmaps:", 1)[-1].split(), logs
