"""The quota port: what a namespace's ResourceQuotas allow and what is already used.

Kubernetes mode reads ResourceQuota objects (adapters/kube_quotas.py); local mode has no quotas.
Quantities are parsed at the edge into Decimals in base units (cores, bytes, object counts), keyed
by the quota's resource names (`requests.cpu`, `limits.memory`, `count/jobs.batch`, `pods`, ...).
Failures are the resource-store errors (ports.resources: StoreUnavailable is retryable).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from msgspec import Struct, field


class Quota(Struct, frozen=True, kw_only=True):
    """One ResourceQuota: its hard limits and the usage the quota system has recorded."""

    name: str
    hard: dict[str, Decimal] = field(default_factory=dict)
    #: Empty until the quota controller first computes usage.
    used: dict[str, Decimal] = field(default_factory=dict)

    def free(self, resource: str) -> Decimal | None:
        """What is left of `resource` (never below 0); None when this quota does not limit it."""
        limit = self.hard.get(resource)
        if limit is None:
            return None
        return max(Decimal(0), limit - self.used.get(resource, Decimal(0)))


class Quotas(Protocol):
    async def of_namespace(self, namespace: str) -> list[Quota]:
        """The namespace's quotas, ordered by name (empty when it has none)."""
        ...
