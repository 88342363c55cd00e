"""The quota port: what a namespace's ResourceQuotas allow and what is already used.

Kubernetes mode reads ResourceQuota objects (adapters/kube/quotas.py); local mode has no quotas.
Quantities are parsed at the edge into Decimals in base units (cores, bytes, object counts), keyed
by the quota's resource names (`requests.cpu`, `limits.memory`, `count/jobs.batch`, `pods`, ...).
The Quota value and its arithmetic live in api.quotas.
Failures are the resource-store errors (ports.resources: StoreUnavailable is retryable).

Contract: of_namespace gives the namespace's quotas ordered by name; a namespace without quotas,
or one that does not exist, gives [] (not an error). Its suite is
tests/integration/test_quotas_contract.py (NoQuotas there; KubeQuotas in tests/k8s/test_kube_quotas.py,
which adds what only real quotas show: order, limits, usage).
"""

from __future__ import annotations

from typing import Protocol

from api.quotas import Quota

__all__ = ["Quota", "Quotas"]


class Quotas(Protocol):
    async def of_namespace(self, namespace: str) -> list[Quota]:
        """The namespace's quotas, ordered by name (empty when it has none)."""
        ...
