"""The REST calls of each c8s kind on the apiserver, with bodies as JSON builtins.

The three c8s kinds are custom resources (group c8s.dev/v1alpha1) reached through CustomObjectsApi;
Secrets are core v1 objects reached through CoreV1Api (its typed models are turned back into the
JSON shape at once, so both paths hand the store the same thing). Patches are JSON merge patches
(application/merge-patch+json). Watches return the open streaming response; kube_watch reads it.
Every call carries the client-side request timeout; failures leave as ports.resources errors (a
Secret read refused by RBAC as NotOnboarded: services read a team's Secrets only through the
RoleBindings `c8s team onboard` gives the namespace).
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import aiohttp
from kubernetes_asyncio import client

from adapters.kube.errors import Expired, translated
from api.meta import GROUP, VERSION
from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from api.secret import Secret
from ports.resources import Forbidden, NotOnboarded, Resource

Body = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
PLURALS: dict[type[Resource], str] = {
    PipelineConfig: "pipelineconfigs",
    PipelineRun: "pipelineruns",
    RepositoryConnection: "repositoryconnections",
}
#: Objects per page when listing (a list of any size is read in pages of one snapshot).
PAGE = 500


class KindApi(Protocol):
    """One kind's REST calls; `namespace=None` means every namespace (list and watch only)."""

    name: str

    async def get(self, namespace: str, name: str) -> Body: ...
    async def list_page(self, namespace: str | None, cont: str | None) -> Body: ...
    async def create(self, namespace: str, body: Body) -> Body: ...
    async def replace(self, namespace: str, name: str, body: Body) -> Body: ...
    async def delete(self, namespace: str, name: str) -> None: ...
    async def patch(self, namespace: str, name: str, patch: Body) -> Body: ...
    async def patch_status(self, namespace: str, name: str, patch: Body) -> Body: ...
    async def watch(self, namespace: str | None, version: str, seconds: int) -> Any: ...


class CustomKind:
    """A c8s custom resource through CustomObjectsApi."""

    def __init__(self, api: Any, kind: type[Resource], timeout: float) -> None:
        # Any: the typed client wants its models or refuses keywords it accepts (_content_type).
        self._api: Any = client.CustomObjectsApi(api)
        self._plural, self._timeout = PLURALS[kind], timeout
        self.name = kind.__name__

    def _where(self, namespace: str | None, name: str = "") -> str:
        return f"{self.name} {namespace or '*'}/{name}".rstrip("/")

    async def get(self, namespace: str, name: str) -> Body:
        async with translated(self._where(namespace, name)):
            return _body(
                await self._api.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, self._plural, name, _request_timeout=self._timeout
                )
            )

    async def list_page(self, namespace: str | None, cont: str | None) -> Body:
        extra: Body = {"limit": PAGE, "_request_timeout": self._timeout}
        if cont:
            extra["_continue"] = cont
        async with translated(f"list {self._where(namespace)}"):
            if namespace is None:
                return _body(
                    await self._api.list_cluster_custom_object(GROUP, VERSION, self._plural, **extra)
                )
            return _body(
                await self._api.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, self._plural, **extra
                )
            )

    async def create(self, namespace: str, body: Body) -> Body:
        async with translated(f"create {self._where(namespace, body['metadata'].get('name', ''))}"):
            return _body(
                await self._api.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, self._plural, body, _request_timeout=self._timeout
                )
            )

    async def replace(self, namespace: str, name: str, body: Body) -> Body:
        async with translated(f"update {self._where(namespace, name)}"):
            return _body(
                await self._api.replace_namespaced_custom_object(
                    GROUP, VERSION, namespace, self._plural, name, body, _request_timeout=self._timeout
                )
            )

    async def delete(self, namespace: str, name: str) -> None:
        async with translated(f"delete {self._where(namespace, name)}"):
            await self._api.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, self._plural, name, _request_timeout=self._timeout
            )

    async def patch(self, namespace: str, name: str, patch: Body) -> Body:
        async with translated(f"patch {self._where(namespace, name)}"):
            return await self._merge_patch(self._api.patch_namespaced_custom_object, namespace, name, patch)

    async def patch_status(self, namespace: str, name: str, patch: Body) -> Body:
        async with translated(f"patch status of {self._where(namespace, name)}"):
            call = self._api.patch_namespaced_custom_object_status
            return await self._merge_patch(call, namespace, name, patch)

    async def _merge_patch(self, call: Any, namespace: str, name: str, patch: Body) -> Body:
        return _body(
            await call(
                GROUP,
                VERSION,
                namespace,
                self._plural,
                name,
                patch,
                _content_type=MERGE_PATCH,
                _request_timeout=self._timeout,
            )
        )

    async def watch(self, namespace: str | None, version: str, seconds: int) -> Any:
        args = _watch_args(version, seconds, self._timeout)
        async with translated(f"watch {self._where(namespace)}"):
            if namespace is None:
                return await self._api.list_cluster_custom_object(GROUP, VERSION, self._plural, **args)
            return await self._api.list_namespaced_custom_object(
                GROUP, VERSION, namespace, self._plural, **args
            )


class SecretKind:
    """Core v1 Secrets through CoreV1Api; typed models are sanitised back to JSON builtins."""

    name = "Secret"

    def __init__(self, api: Any, timeout: float) -> None:
        self._client, self._timeout = api, timeout
        self._api: Any = client.CoreV1Api(api)

    def _json(self, model: Any) -> Body:
        return _body(self._client.sanitize_for_serialization(model))

    async def get(self, namespace: str, name: str) -> Body:
        try:
            async with translated(f"Secret {namespace}/{name}"):
                return self._json(
                    await self._api.read_namespaced_secret(name, namespace, _request_timeout=self._timeout)
                )
        except Forbidden as e:
            # Services read a team's Secrets only through the RoleBindings onboarding gives them.
            raise NotOnboarded(namespace, str(e)) from e

    async def list_page(self, namespace: str | None, cont: str | None) -> Body:
        extra: Body = {"limit": PAGE, "_request_timeout": self._timeout}
        if cont:
            extra["_continue"] = cont
        async with translated(f"list Secret {namespace or '*'}"):
            if namespace is None:
                return self._json(await self._api.list_secret_for_all_namespaces(**extra))
            return self._json(await self._api.list_namespaced_secret(namespace, **extra))

    async def create(self, namespace: str, body: Body) -> Body:
        async with translated(f"create Secret {namespace}/{body['metadata'].get('name', '')}"):
            return self._json(
                await self._api.create_namespaced_secret(namespace, body, _request_timeout=self._timeout)
            )

    async def replace(self, namespace: str, name: str, body: Body) -> Body:
        async with translated(f"update Secret {namespace}/{name}"):
            return self._json(
                await self._api.replace_namespaced_secret(
                    name, namespace, body, _request_timeout=self._timeout
                )
            )

    async def delete(self, namespace: str, name: str) -> None:
        async with translated(f"delete Secret {namespace}/{name}"):
            await self._api.delete_namespaced_secret(name, namespace, _request_timeout=self._timeout)

    async def patch(self, namespace: str, name: str, patch: Body) -> Body:
        async with translated(f"patch Secret {namespace}/{name}"):
            return self._json(
                await self._api.patch_namespaced_secret(
                    name, namespace, patch, _content_type=MERGE_PATCH, _request_timeout=self._timeout
                )
            )

    async def patch_status(self, namespace: str, name: str, patch: Body) -> Body:
        raise NotImplementedError("a Secret has no status")

    async def watch(self, namespace: str | None, version: str, seconds: int) -> Any:
        args = _watch_args(version, seconds, self._timeout)
        async with translated(f"watch Secret {namespace or '*'}"):
            if namespace is None:
                return await self._api.list_secret_for_all_namespaces(**args)
            return await self._api.list_namespaced_secret(namespace, **args)


def _body(value: Any) -> Body:
    return cast(Body, value)


def kind_api(api: Any, kind: type[Resource], timeout: float) -> KindApi:
    return SecretKind(api, timeout) if kind is Secret else CustomKind(api, kind, timeout)


def _watch_args(version: str, seconds: int, timeout: float) -> Body:
    """A streaming watch from `version` with bookmarks; the server ends it after `seconds`, the
    client gives up on a silent connection a little later (bookmarks arrive about once a minute)."""
    return {
        "watch": True,
        "resource_version": version,
        "allow_watch_bookmarks": True,
        "timeout_seconds": seconds,
        "_preload_content": False,
        "_request_timeout": aiohttp.ClientTimeout(connect=timeout, sock_read=seconds + 30),
    }


async def list_all(api: KindApi, namespace: str | None) -> tuple[str, list[Body]]:
    """Every object of the kind as one consistent snapshot (read in pages), with the snapshot's
    resourceVersion; a continue token that expired mid-way starts the list over."""
    for _ in range(3):
        try:
            return await _pages(api, namespace)
        except Expired:
            continue
    return await _pages(api, namespace)


async def _pages(api: KindApi, namespace: str | None) -> tuple[str, list[Body]]:
    items: list[Body] = []
    version, cont = "", None
    while True:
        page = await api.list_page(namespace, cont)
        meta = page.get("metadata") or {}
        version = version or meta.get("resourceVersion", "")
        items.extend(page.get("items") or [])
        cont = meta.get("continue")
        if not cont:
            return version, items
