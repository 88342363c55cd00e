"""Reads the facts the admission rules need from the cluster, through the ports.

Secrets and PipelineConfigs by name (NotFound means absent), the names of the namespace's
PipelineConfigs only when a referenced one is missing (for "did you mean"), and the namespace's
ResourceQuotas when the object's resources are checked. Reads run concurrently; any other store
failure propagates (the webhook then refuses with 503 rather than admit unchecked).
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from api.pipelineconfig import PipelineConfig
from api.secret import Secret
from ports.quotas import Quota, Quotas
from ports.resources import NotFound, ResourceStore
from services.admission.rules import Facts, Needs

K = TypeVar("K", Secret, PipelineConfig)


class Lookups:
    def __init__(self, store: ResourceStore, quotas: Quotas) -> None:
        self.store, self.quotas = store, quotas

    async def facts(self, namespace: str, needs: Needs) -> Facts:
        secrets, configs, quotas = await asyncio.gather(
            self._secrets(namespace, needs.secrets),
            self._configs(namespace, needs.configs),
            self._quotas(namespace, needs.quotas),
        )
        names: list[str] = []
        if needs.configs - configs.keys():
            names = [c.metadata.name for c in await self.store.list(PipelineConfig, namespace)]
        return Facts(namespace=namespace, secrets=secrets, configs=configs, config_names=names, quotas=quotas)

    async def _secrets(self, namespace: str, names: frozenset[str]) -> dict[str, frozenset[str]]:
        found = await asyncio.gather(*(self._get(Secret, namespace, n) for n in sorted(names)))
        return {s.metadata.name: frozenset(s.data) | frozenset(s.string_data) for s in found if s is not None}

    async def _configs(self, namespace: str, names: frozenset[str]) -> dict[str, PipelineConfig]:
        found = await asyncio.gather(*(self._get(PipelineConfig, namespace, n) for n in sorted(names)))
        return {c.metadata.name: c for c in found if c is not None}

    async def _quotas(self, namespace: str, wanted: bool) -> list[Quota]:
        return await self.quotas.of_namespace(namespace) if wanted else []

    async def _get(self, kind: type[K], namespace: str, name: str) -> K | None:
        try:
            return await self.store.get(kind, namespace, name)
        except NotFound:
            return None
