"""The resource-store port over the Kubernetes API: c8s CRDs (c8s.dev/v1alpha1) and core Secrets.

Calls per kind are in adapters.kube.kinds, bodies in adapters.kube.bodies, watching in
adapters.kube.watch, write coalescing in adapters.kube.status; every kubernetes_asyncio failure
leaves as a ports.resources error (adapters.kube.errors).

- create posts the object without status or apiserver-owned metadata; the apiserver assigns uid,
  generation, resourceVersion, a generateName suffix, folds stringData, and answers AlreadyExists.
- apply is get + replace (PUT) carrying the read resourceVersion, retried on Conflict; not
  server-side apply, because apply here means "replace spec, labels, annotations and
  ownerReferences" (labels another writer added are removed, as in the KV store), which SSA's
  field ownership would not do. The status subresource keeps PUT from touching status; the
  apiserver bumps generation only when the spec changes, and an unchanged PUT writes nothing.
- request_cancel is a merge patch of spec.cancelRequested=true (idempotent on the server).
- patch_status reads the object, drops the status when it is for another uid or behind the stored
  observedSequence, writes nothing when it is unchanged, else sends a merge patch
  (application/merge-patch+json) to the status subresource guarded by the read resourceVersion,
  re-reading on Conflict. The read is skipped when this store already holds the object as it last
  got or wrote it (a bounded memory of recent bodies): the PATCH carries that resourceVersion, so
  one round trip when nobody else wrote since, a Conflict and the usual read otherwise; a remembered
  body is only trusted to *send* a write, never to drop one (dropping always re-reads). Writes for
  one object are coalesced (adapters.kube.status). A status the CRD's rules refuse (a finished run
  changing phase) is Invalid with the apiserver's message.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from adapters.kube.bodies import create_body, decoded, replaced, status_patch
from adapters.kube.client import KubeSettings, api_client
from adapters.kube.kinds import Body, KindApi, kind_api, list_all
from adapters.kube.status import Key, StatusWriter
from adapters.kube.watch import KubeWatch
from api.pipelinerun import PipelineRun
from ports.resources import AlreadyExists, AnyStatus, Conflict, Invalid, NotFound, R, Resource, WatchEvent
from ports.status_rules import stale, status_checked

#: Read-check-write attempts before a write gives up with Conflict.
CONFLICT_ATTEMPTS = 50
#: Bodies remembered (as last read or written) to skip the read before a status write.
REMEMBERED = 1024
Where = tuple[type[Resource], str, str]


class KubeStore:
    """ResourceStore adapter; `await KubeStore.connect(settings)` or `KubeStore(api_client, settings)`."""

    def __init__(self, api: Any, settings: KubeSettings, *, owns_client: bool = False) -> None:
        self._client, self._settings, self._owns = api, settings, owns_client
        self._kinds: dict[type[Resource], KindApi] = {}
        self._closed = False
        self.status_writer = StatusWriter(self._write_status, settings.status_linger)
        self._bodies: OrderedDict[Where, Body] = OrderedDict()

    @classmethod
    async def connect(cls, settings: KubeSettings) -> KubeStore:
        """A store on its own ApiClient (closed by close())."""
        return cls(await api_client(settings), settings, owns_client=True)

    async def get(self, kind: type[R], namespace: str, name: str) -> R:
        body = await self._api(kind).get(namespace, name)
        self._remember((kind, namespace, name), body)
        return decoded(kind, body)

    async def list(self, kind: type[R], namespace: str | None = None) -> list[R]:
        _, items = await list_all(self._api(kind), namespace)
        objs = [decoded(kind, item) for item in items]
        return sorted(objs, key=lambda o: (o.metadata.namespace, o.metadata.name))

    async def create(self, obj: R) -> R:
        kind = type(obj)
        return decoded(kind, await self._api(kind).create(obj.metadata.namespace, create_body(obj)))

    async def apply(self, obj: R) -> R:
        kind, meta = type(obj), obj.metadata
        if not meta.name:
            raise Invalid(f"apply {kind.__name__}: metadata.name is required (generateName is for create)")
        api = self._api(kind)
        for _ in range(CONFLICT_ATTEMPTS):
            try:
                stored = await api.get(meta.namespace, meta.name)
            except NotFound:
                try:
                    return await self.create(obj)
                except AlreadyExists:
                    continue
            try:
                return decoded(kind, await api.replace(meta.namespace, meta.name, replaced(stored, obj)))
            except (Conflict, NotFound):
                continue
        raise Conflict(f"apply {kind.__name__} {meta.namespace}/{meta.name}: too many concurrent writers")

    async def delete(self, kind: type[R], namespace: str, name: str) -> None:
        await self._api(kind).delete(namespace, name)

    async def request_cancel(self, namespace: str, name: str) -> PipelineRun:
        patch = {"spec": {"cancelRequested": True}}
        return decoded(PipelineRun, await self._api(PipelineRun).patch(namespace, name, patch))

    async def patch_status(
        self, kind: type[R], namespace: str, name: str, status: AnyStatus, *, uid: str | None = None
    ) -> R | None:
        status_checked(kind, status)
        written: R | None = await self.status_writer.submit((kind, namespace, name, uid), status)
        return written

    def watch(self, kind: type[R], namespace: str | None = None) -> AsyncIterator[WatchEvent]:
        return self.watcher(kind, namespace).events()

    def watcher(self, kind: type[R], namespace: str | None = None) -> KubeWatch[R]:
        """The watch object itself (its `lists` counter shows re-lists)."""
        return KubeWatch(self._api(kind), kind, namespace, self._settings, lambda: self._closed)

    async def close(self) -> None:
        self._closed = True
        await self.status_writer.close()
        if self._owns:
            await self._client.close()

    def _api(self, kind: type[Resource]) -> KindApi:
        api = self._kinds.get(kind)
        if api is None:
            api = self._kinds[kind] = kind_api(self._client, kind, self._settings.request_timeout)
        return api

    async def _write_status(self, key: Key, status: AnyStatus) -> Resource | None:
        """One status write: read (unless remembered), check identity and sequence, merge patch at
        the read version."""
        kind, namespace, name, uid = key
        api, where = self._api(kind), (kind, namespace, name)
        stored = self._bodies.pop(where, None)
        for _ in range(CONFLICT_ATTEMPTS):
            remembered = stored is not None
            if stored is None:
                stored = await api.get(namespace, name)
            current: Resource = decoded(kind, stored)
            if stale(current, status, uid) or getattr(current, "status", None) == status:
                if remembered:
                    stored = None  # decide a drop on what the apiserver holds now
                    continue
                self._remember(where, stored)
                return None if stale(current, status, uid) else current
            try:
                body = await api.patch_status(namespace, name, status_patch(stored, status))
            except Conflict:
                stored = None
                continue
            self._remember(where, body)
            written: Resource = decoded(kind, body)
            return written
        raise Conflict(f"status of {kind.__name__} {namespace}/{name}: too many concurrent writers")

    def _remember(self, where: Where, body: Body) -> None:
        self._bodies[where] = body
        self._bodies.move_to_end(where)
        if len(self._bodies) > REMEMBERED:
            self._bodies.popitem(last=False)
