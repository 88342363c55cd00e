"""A resource store that fails on demand: the store outage of a projector test.

FlakyStore wraps a real store and raises StoreUnavailable from patch_status while `failing` is
set (a single handler call's outage), or with probability `rate` drawn from a seeded Random (a
store that hiccups now and then under a running consumer); `writes` counts the status writes
passed through, `reads` the gets. Everything else is passed through.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

from api.pipelinerun import PipelineRun
from ports.resources import AnyStatus, R, ResourceStore, StoreUnavailable, WatchEvent


class FlakyStore:
    def __init__(self, store: ResourceStore, rate: float = 0.0, seed: int = 0) -> None:
        self.store, self.rate, self.random = store, rate, random.Random(seed)
        self.failing = False
        self.failures = 0
        self.writes = 0
        self.reads = 0

    async def patch_status(
        self, kind: type[R], namespace: str, name: str, status: AnyStatus, *, uid: str | None = None
    ) -> R | None:
        if self.failing or self.random.random() < self.rate:
            self.failures += 1
            raise StoreUnavailable(f"status of {kind.__name__} {namespace}/{name}: injected outage")
        self.writes += 1
        return await self.store.patch_status(kind, namespace, name, status, uid=uid)

    async def get(self, kind: type[R], namespace: str, name: str) -> R:
        self.reads += 1
        return await self.store.get(kind, namespace, name)

    async def list(self, kind: type[R], namespace: str | None = None) -> list[R]:
        return await self.store.list(kind, namespace)

    async def create(self, obj: R) -> R:
        return await self.store.create(obj)

    async def apply(self, obj: R) -> R:
        return await self.store.apply(obj)

    async def delete(self, kind: type[R], namespace: str, name: str) -> None:
        await self.store.delete(kind, namespace, name)

    async def request_cancel(self, namespace: str, name: str) -> PipelineRun:
        return await self.store.request_cancel(namespace, name)

    def watch(self, kind: type[R], namespace: str | None = None) -> AsyncIterator[WatchEvent]:
        return self.store.watch(kind, namespace)

    async def close(self) -> None:
        await self.store.close()
