"""A resource store whose Secret reads fail the way Kubernetes RBAC fails them in a namespace that
is not onboarded (NotOnboarded, from adapters/kube/kinds.py), until the test onboards it: the
services' handling of that refusal, tested on the real bus and KV store (tests/k8s/test_onboarding.py
shows the real apiserver raising it)."""

from __future__ import annotations

import time
from typing import Any

from api.secret import Secret
from ports.resources import NotOnboarded, R, ResourceStore


class NotOnboardedYet:
    """Wraps a real store; Secret gets raise NotOnboarded (timestamps kept) until `onboarded`."""

    def __init__(self, store: ResourceStore) -> None:
        self.store, self.onboarded = store, False
        self.refusals: list[float] = []

    async def get(self, kind: type[R], namespace: str, name: str) -> R:
        if kind is Secret and not self.onboarded:
            self.refusals.append(time.monotonic())
            raise NotOnboarded(namespace, f'secrets "{name}" is forbidden')
        return await self.store.get(kind, namespace, name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)
