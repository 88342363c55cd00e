"""The StepWorkloads port over the Kubernetes API: c8s Jobs and their pods, listed then watched.

Two loops (Jobs, Pods; label selector `app.kubernetes.io/managed-by=c8s,c8s.dev/run`) list, then
watch from the list's resourceVersion, and start over with a fresh list on any watch failure (410
Gone once the apiserver compacted past it, a dropped connection, an apiserver restart). Their
changes feed one index (Jobs by namespace/name, pods by the Job that controls them) that yields
the Job's whole state after every change; a re-list yields every Job again and `gone` for Jobs
that disappeared meanwhile. Objects are decoded into the few fields c8s reads (kube_shapes) and
handed out as the port's typed states; no dict leaves this module.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal

import msgspec
import structlog
from kubernetes_asyncio import client, watch
from msgspec import Struct

from adapters.kube.connection import MERGE_PATCH, KubeConnection
from adapters.kube.shapes import Job, Pod, job_state
from ports.step_workloads import JobState
from steps.job_manifest import SELECTOR

log = structlog.get_logger(__name__)
Key = tuple[str, str]
Kind = Literal["job", "pod"]
_WATCH_SECONDS = 300


class Change(Struct, frozen=True):
    kind: Kind
    type: str
    objects: list[Any]


class Index:
    """Jobs and pods as last seen; which Jobs a change concerns, and each Job's state."""

    def __init__(self) -> None:
        self.jobs: dict[Key, Job] = {}
        self.pods: dict[Key, Pod] = {}
        self._gone: dict[Key, Job] = {}

    def apply(self, change: Change) -> list[JobState]:
        if change.kind == "job":
            touched = self._apply_jobs(change, [msgspec.convert(o, Job) for o in change.objects])
        else:
            touched = self._apply_pods(change, [msgspec.convert(o, Pod) for o in change.objects])
        return [s for key in sorted(touched) if (s := self._state(key)) is not None]

    def _apply_jobs(self, change: Change, jobs: list[Job]) -> set[Key]:
        touched = {j.key for j in jobs}
        if change.type == "LISTED":
            touched |= set(self.jobs)
            self._gone = {k: self.jobs[k] for k in set(self.jobs) - {j.key for j in jobs}}
            self.jobs = {j.key: j for j in jobs}
        elif change.type == "DELETED":
            self._gone = {j.key: j for j in jobs}
            for j in jobs:
                self.jobs.pop(j.key, None)
        else:
            self.jobs.update({j.key: j for j in jobs})
        return touched

    def _apply_pods(self, change: Change, pods: list[Pod]) -> set[Key]:
        touched = {p.job_key for p in pods if p.job_key is not None}
        if change.type == "LISTED":
            touched |= {p.job_key for p in self.pods.values() if p.job_key is not None}
            self.pods = {p.key: p for p in pods}
        elif change.type == "DELETED":
            for p in pods:
                self.pods.pop(p.key, None)
        else:
            self.pods.update({p.key: p for p in pods})
        return touched

    def _state(self, key: Key) -> JobState | None:
        job = self.jobs.get(key) or self._gone.pop(key, None)
        if job is None:
            return None
        pods = [p for p in self.pods.values() if p.job_key == key]
        return job_state(job, pods, gone=key not in self.jobs)


class KubeWorkloads:
    def __init__(self, connection: KubeConnection, relist_delay: float = 0.5) -> None:
        self.connection = connection
        self.relist_delay = relist_delay

    async def watch(self) -> AsyncIterator[JobState]:
        api = await self.connection.api()
        queue: asyncio.Queue[Change] = asyncio.Queue()
        batch: Any = client.BatchV1Api(api)
        core: Any = client.CoreV1Api(api)
        pumps = [
            asyncio.create_task(self._pump("job", batch.list_job_for_all_namespaces, queue)),
            asyncio.create_task(self._pump("pod", core.list_pod_for_all_namespaces, queue)),
        ]
        index = Index()
        try:
            while True:
                for state in index.apply(await queue.get()):
                    yield state
        finally:
            for task in pumps:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pumps, return_exceptions=True)

    async def close(self) -> None:
        await self.connection.close()

    async def stop(self, namespace: str, job: str) -> None:
        """Suspend the Job (its pod can never start); a refusal is logged, not raised: the Job's own
        deadline stops it anyway. 403: the namespace does not lend c8s-team-job-stopper."""
        batch: Any = client.BatchV1Api(await self.connection.api())
        try:
            await batch.patch_namespaced_job(
                job, namespace, {"spec": {"suspend": True}}, _content_type=MERGE_PATCH
            )
        except client.ApiException as e:
            if e.status != 404:  # 404: gone already
                log.warning(
                    "job_watcher.stop_refused", namespace=namespace, job=job, status=e.status, reason=e.reason
                )

    async def _pump(self, kind: Kind, lister: Any, queue: asyncio.Queue[Change]) -> None:
        while True:
            try:
                await self._list_then_watch(kind, lister, queue)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # re-list on any watch failure (410 Gone, apiserver restart)
                log.info("job_watcher.relist", kind=kind, error=repr(e))
                await asyncio.sleep(self.relist_delay)

    async def _list_then_watch(self, kind: Kind, lister: Any, queue: asyncio.Queue[Change]) -> None:
        listed = await lister(label_selector=SELECTOR, _preload_content=False)
        body = await listed.json()
        await queue.put(Change(kind, "LISTED", body["items"]))
        async with watch.Watch() as w:
            stream = w.stream(
                lister,
                label_selector=SELECTOR,
                resource_version=body["metadata"]["resourceVersion"],
                timeout_seconds=_WATCH_SECONDS,
                allow_watch_bookmarks=True,
            )
            async for event in stream:
                if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    await queue.put(Change(kind, event["type"], [event["raw_object"]]))
