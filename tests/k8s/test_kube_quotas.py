"""The Quotas contract (tests/integration/test_quotas_contract.py) on KubeQuotas, reading
ResourceQuota objects on the real apiserver, in a fresh namespace per test; and what only real
quotas show: several quotas come ordered by name and only from their own namespace; a quota's
limits come from spec.hard until the quota system has written status, then from status.hard with
status.used, parsed into base units, and `free` is what is left.

The plane runs no resourcequota controller, so the test writes the status the controller would.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from kubernetes_asyncio import client

from adapters.kube.quotas import KubeQuotas
from tests.integration.test_quotas_contract import QuotasContract, QuotasHarness

pytestmark = pytest.mark.k8s

HARD = {"requests.cpu": "2", "requests.memory": "4Gi", "count/jobs.batch": "10"}


async def create_quota(api: client.ApiClient, namespace: str, name: str, hard: dict[str, str]) -> None:
    body = client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name=name), spec=client.V1ResourceQuotaSpec(hard=hard)
    )
    await client.CoreV1Api(api).create_namespaced_resource_quota(namespace, body)


class TestKubeQuotasContract(QuotasContract):
    @pytest.fixture
    def quotas_harness(self, k8s_api: client.ApiClient, namespace: str) -> QuotasHarness:
        return QuotasHarness(KubeQuotas(k8s_api), namespace)

    async def test_quotas_are_ordered_by_name_and_kept_to_their_namespace(
        self, k8s_api: client.ApiClient, namespace: str, quotas_harness: QuotasHarness
    ) -> None:
        """Quotas created out of order come back ordered by name; another namespace sees none of them."""
        for name in ("jobs", "compute", "memory"):
            await create_quota(k8s_api, namespace, name, {"count/jobs.batch": "5"})
        listed = await quotas_harness.quotas.of_namespace(namespace)
        assert [q.name for q in listed] == ["compute", "jobs", "memory"]
        assert await quotas_harness.quotas.of_namespace("default") == []

    async def test_quota_limits_and_usage(
        self, k8s_api: client.ApiClient, namespace: str, quotas_harness: QuotasHarness
    ) -> None:
        """Limits come from spec.hard before status exists, then status.hard/used, in base units."""
        core, quotas = client.CoreV1Api(k8s_api), quotas_harness.quotas
        await create_quota(k8s_api, namespace, "ci", HARD)
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
