"""The quota port in local mode: the runner's host has no ResourceQuotas, so nothing is limited."""

from __future__ import annotations

from ports.quotas import Quota


class NoQuotas:
    """Every namespace has no quotas."""

    async def of_namespace(self, namespace: str) -> list[Quota]:
        return []
