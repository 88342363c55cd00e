"""The c8s CRDs on a cluster: check they are installed, install the missing ones, wait until served.

The bodies are the ones `python -m c8s.gen_crds` writes to deploy/300-crds (api.crds), so what is
installed here is exactly what `kubectl apply -f deploy/300-crds` would install. A CRD that exists
is left as it is (upgrading CRDs is a deliberate act, not a side effect of starting services).
Failures leave as ports.resources errors: StoreUnavailable when the apiserver cannot be reached,
StoreError when it refuses (e.g. 403: the user may not manage CRDs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from adapters.kube.client import KubeSettings, api_client
from adapters.kube.errors import translated
from api.crds import RESOURCES, crd

POLL_SECONDS = 0.2


async def ensure_crds(kubeconfig: str, report: Callable[[str], None], deadline: float = 60.0) -> list[str]:
    """Install the c8s CRDs missing from the cluster and wait until every one is Established.

    Returns the names of the CRDs it installed (empty when all were there)."""
    api = await api_client(KubeSettings(kubeconfig=kubeconfig))
    try:
        async with translated("c8s CRDs"):
            ext: Any = client.ApiextensionsV1Api(api)
            bodies = [crd(kind) for kind in RESOURCES]
            installed = [_name(b) for b in bodies if await _install_if_missing(ext, b, report)]
            for body in bodies:
                await _established(ext, _name(body), deadline)
        return installed
    finally:
        await api.close()


def _name(body: Mapping[str, Any]) -> str:
    return str(body["metadata"]["name"])


async def _install_if_missing(ext: Any, body: Mapping[str, Any], report: Callable[[str], None]) -> bool:
    name = _name(body)
    try:
        await ext.read_custom_resource_definition(name)
    except ApiException as e:
        if e.status != 404:
            raise
        report(f"CRD {name} is not installed: installing it (as kubectl apply -f deploy/300-crds)")
        try:
            await ext.create_custom_resource_definition(body)
        except ApiException as created:
            if created.status != 409:
                raise
        return True
    return False


async def _established(ext: Any, name: str, deadline: float) -> None:
    """Wait for the CRD's Established condition (its resources are served from then on)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        obj = await ext.read_custom_resource_definition(name)
        conditions = (obj.status.conditions if obj.status is not None else None) or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        if loop.time() > end:
            raise TimeoutError(f"CRD {name} not Established after {deadline:g}s")
        await asyncio.sleep(POLL_SECONDS)
