"""The ResourceStore contract (tests/integration/test_resource_store_contract.py) on the Kubernetes
adapter, against a real apiserver with the c8s CRDs installed.

The store under test talks to a spare kube-apiserver on the plane's etcd (tests/k8s/spare_apiserver)
so that the contract's stop/start tests really stop and start the backend: the apiserver process is
terminated and started again on the same port. Each test gets two fresh namespaces.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio import client, config

from adapters.kube.client import KubeSettings
from adapters.kube.store import KubeStore
from tests.integration.test_resource_store_contract import ResourceStoreContract
from tests.k8s.spare_apiserver import SpareApiserver, c8s_crds, spare_apiserver

pytestmark = pytest.mark.k8s
__all__ = ["c8s_crds", "spare_apiserver"]


def settings(kubeconfig: str) -> KubeSettings:
    """Short timeouts so outages are noticed and recovered from in well under a second."""
    return KubeSettings(kubeconfig=kubeconfig, request_timeout=5.0, retry_wait=0.2, watch_seconds=60)


class KubeHarness:
    """The Kubernetes adapter bound to two fresh namespaces on the spare apiserver."""

    def __init__(self, spare: SpareApiserver, store: KubeStore, admin: client.ApiClient) -> None:
        self.spare, self.store, self._admin = spare, store, admin
        self.namespace, self.other_namespace = f"ns-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
        self._stores = [store]

    async def create_namespaces(self) -> None:
        core = client.CoreV1Api(self._admin)
        for ns in (self.namespace, self.other_namespace):
            await core.create_namespace({"metadata": {"name": ns, "labels": {"c8s.dev/test": "true"}}})

    async def connect(self) -> KubeStore:
        store = await KubeStore.connect(settings(str(self.spare.kubeconfig)))
        self._stores.append(store)
        return store

    async def stop_backend(self) -> None:
        await asyncio.to_thread(self.spare.stop)

    async def start_backend(self) -> None:
        await asyncio.to_thread(self.spare.start)

    async def close(self) -> None:
        for store in self._stores:
            await store.close()
        core = client.CoreV1Api(self._admin)
        for ns in (self.namespace, self.other_namespace):
            await core.delete_namespace(ns)


class TestKubeStoreContract(ResourceStoreContract):
    @pytest.fixture
    async def store_harness(self, spare_apiserver: SpareApiserver) -> AsyncIterator[KubeHarness]:
        # The admin client talks to the plane's own apiserver, which is never stopped.
        admin = await config.new_client_from_config(config_file=str(spare_apiserver.plane.kubeconfig))
        store = await KubeStore.connect(settings(str(spare_apiserver.kubeconfig)))
        harness = KubeHarness(spare_apiserver, store, admin)
        await harness.create_namespaces()
        yield harness
        await harness.close()
        await admin.close()
