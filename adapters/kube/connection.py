"""One Kubernetes API connection per process, opened on first use, and the outage rule.

`KubeConnection(kubeconfig)` opens a kubernetes-asyncio ApiClient from the kubeconfig file (or the
in-cluster service account when empty) the first time it is needed, so composition (wiring) stays
synchronous. `outage(e)` says whether an API failure is an outage worth retrying (connection
errors, timeouts, 429 and 5xx) rather than an answer about the request.
"""

from __future__ import annotations

import asyncio

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

MERGE_PATCH = "application/merge-patch+json"


class KubeConnection:
    def __init__(self, kubeconfig: str = "", api: client.ApiClient | None = None) -> None:
        self.kubeconfig = kubeconfig
        self._api = api
        self._lock = asyncio.Lock()

    async def api(self) -> client.ApiClient:
        async with self._lock:
            if self._api is None:
                self._api = await open_api(self.kubeconfig)
            return self._api

    async def close(self) -> None:
        if self._api is not None:
            await self._api.close()
            self._api = None


async def open_api(kubeconfig: str) -> client.ApiClient:
    if kubeconfig:
        return await config.new_client_from_config(config_file=kubeconfig)
    config.load_incluster_config()  # type: ignore[no-untyped-call]
    return client.ApiClient()


def outage(e: BaseException) -> bool:
    if isinstance(e, ApiException):
        return e.status is None or e.status == 429 or e.status >= 500
    return isinstance(e, aiohttp.ClientError | OSError | TimeoutError)
