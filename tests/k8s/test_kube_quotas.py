"""ResourceQuota reads (adapters/kube/quotas.py) on the real apiserver: a namespace without quotas
has none; a quota's limits come from spec.hard until the quota system has written status, then
from status.hard with status.used, parsed into base units, and `free` is what is left.

The plane runs no resourcequota controller, so the test writes the status the controller would.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from kubernetes_asyncio import client

from adapters.kube.quotas import KubeQuotas

pytestmark = pytest.mark.k8s

HARD = {"requests.cpu": "2", "requests.memory": "4Gi", "count/jobs.batch": "10"}


async def test_namespace_without_quotas(k8s_api: client.ApiClient, namespace: str) -> None:
    """A namespace with no ResourceQuota has no quotas."""
    assert await KubeQuotas(k8s_api).of_namespace(namespace) == []


async def test_quota_limits_and_usage(k8s_api: client.ApiClient, namespace: str) -> None:
    """Limits come from spec.hard before status exists, then status.hard/used, in base units."""
    core, quotas = client.CoreV1Api(k8s_api), KubeQuotas(k8s_api)
    body = {"metadata": {"name": "ci"}, "spec": {"hard": HARD}}
    await core.create_namespaced_resource_quota(namespace, body)
    [fresh] = await quotas.of_namespace(namespace)
    assert fresh.hard == {"requests.cpu": 2, "requests.memory": 4 * 2**30, "count/jobs.batch": 10}
    assert fresh.used == {} and fresh.free("requests.cpu") == 2 and fresh.free("limits.cpu") is None
    stored = await core.read_namespaced_resource_quota("ci", namespace)
    stored.status = client.V1ResourceQuotaStatus(
        hard=HARD, used={"requests.cpu": "1500m", "requests.memory": "5Gi", "count/jobs.batch": "3"}
    )
    await core.replace_namespaced_resource_quota_status("ci", namespace, stored)
    [synced] = await quotas.of_namespace(namespace)
    assert synced.free("requests.cpu") == Decimal("0.5")
    assert synced.free("requests.memory") == 0  # over the limit reads as nothing left
    assert synced.free("count/jobs.batch") == 7
