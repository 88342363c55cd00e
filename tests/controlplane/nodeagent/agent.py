"""The test node agent: one Node, a binder standing in for kube-scheduler, and a kubelet's pod loop.

- Registers Node ``name`` (InternalIP 127.0.0.1, the log endpoint's port in
  status.daemonEndpoints.kubeletEndpoint, Ready, capacity) and keeps it Ready.
- Binds every pending pod without a nodeName to it through pods/binding (there is no scheduler).
- Runs each pod bound to it (see pods.py), kills its processes when the pod is deleted or its
  deadline passes, and then finalises a graceful deletion (delete with grace 0) as the kubelet does.

Each loop is list-then-watch and re-lists on any watch error (410 Gone included), so handling is
idempotent: a pod is run once per uid, a binding that already exists is a conflict to ignore.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from .logs import LogServer
from .pods import MERGE_PATCH, Obj, PodRun, now

log = logging.getLogger("c8s.nodeagent")
DEFAULT_NODE = "c8s-node"
_WATCH_SECONDS = 240
Handler = Callable[[str, Obj], None]


class NodeAgent:
    def __init__(self, api: client.ApiClient, root: Path, *, ca: Path, cert: Path, key: Path,
                 kubelet_version: str, name: str = DEFAULT_NODE, grace: float = 5.0) -> None:
        self.core = client.CoreV1Api(api)
        self.root = root
        self.name = name
        self.kubelet_version = kubelet_version
        self.grace = grace
        self.server = LogServer(ca, cert, key)
        self.runs: dict[str, PodRun] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.server.start()
        await self._register()
        self._loops = [
            asyncio.create_task(self._watch("spec.nodeName=", self._bind)),
            asyncio.create_task(self._watch(f"spec.nodeName={self.name}", self._on_pod)),
        ]

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await asyncio.gather(*(run.kill(0.0) for run in self.runs.values()))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.server.stop()

    # -- the Node --------------------------------------------------------------------------------

    async def _register(self) -> None:
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "c8s.dev/test-node": "true"}
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name, "labels": labels}}
        with contextlib.suppress(ApiException):
            await self.core.create_node(body)
        # TaintNodesByCondition marks a new node not-ready; the node lifecycle controller that would
        # lift it does not run here, and the taint would mislead anyone reading the node.
        await self.core.patch_node(self.name, {"spec": {"taints": None}}, _content_type=MERGE_PATCH)
        await self.core.patch_node_status(self.name, {"status": self._node_status()},
                                          _content_type=MERGE_PATCH)

    def _node_status(self) -> Obj:
        t = now()
        resources = {"cpu": str(os.cpu_count() or 2), "memory": "16Gi", "pods": "250",
                     "ephemeral-storage": "100Gi"}
        conditions = [
            {"type": kind, "status": "False", "reason": f"KubeletHasNo{kind}", "lastHeartbeatTime": t,
             "lastTransitionTime": t} for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
        ] + [{"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": t,
              "lastTransitionTime": t, "message": "c8s test node agent is posting ready status"}]
        return {
            "capacity": resources,
            "allocatable": resources,
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.server.port}},
            "nodeInfo": {
                "machineID": "c8s-test-node", "systemUUID": "c8s-test-node", "bootID": "c8s-test-node",
                "kernelVersion": platform.release(), "osImage": "c8s test node agent (local processes)",
                "containerRuntimeVersion": "c8s-nodeagent://0.1", "kubeletVersion": self.kubelet_version,
                "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64",
            },
        }

    # -- watching --------------------------------------------------------------------------------

    async def _watch(self, field_selector: str, handle: Callable[[str, Obj], Awaitable[None]]) -> None:
        while True:
            try:
                listed = await self.core.list_pod_for_all_namespaces(
                    field_selector=field_selector, _preload_content=False)
                body = await listed.json()
                for pod in body["items"]:
                    await handle("LISTED", pod)
                await self._forget_missing(field_selector, {p["metadata"]["uid"] for p in body["items"]})
                async with watch.Watch() as w:
                    stream = w.stream(self.core.list_pod_for_all_namespaces, field_selector=field_selector,
                                      resource_version=body["metadata"]["resourceVersion"],
                                      timeout_seconds=_WATCH_SECONDS, allow_watch_bookmarks=True)
                    async for event in stream:
                        if event["type"] != "BOOKMARK":
                            await handle(event["type"], event["raw_object"])
            except asyncio.CancelledError:
                raise
            except Exception as e:  # re-list on any watch failure (410 Gone, apiserver restart)
                log.info("pod watch (%s) ended, re-listing: %s", field_selector, e)
                await asyncio.sleep(0.5)

    async def _forget_missing(self, field_selector: str, present: set[str]) -> None:
        if field_selector.endswith("="):
            return
        for uid in set(self.runs) - present:
            await self._on_pod("DELETED", self.runs[uid].pod)

    async def _bind(self, kind: str, pod: Obj) -> None:
        meta = pod["metadata"]
        if kind == "DELETED" or pod["spec"].get("nodeName") or meta.get("deletionTimestamp"):
            return
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": self.name}}
        try:
            resp = await self.core.create_namespaced_pod_binding(
                meta["name"], meta["namespace"], binding, _preload_content=False)
            resp.release()
        except ApiException as e:
            if e.status not in (404, 409):
                raise

    async def _on_pod(self, kind: str, pod: Obj) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        run = self.runs.get(uid)
        if kind == "DELETED":
            if run is not None:
                del self.runs[uid]
                self._spawn(self._forget(run))
            return
        if meta.get("deletionTimestamp"):
            if run is None or not run.stopping:
                self._spawn(self._finalise_deletion(pod, run))
            return
        if run is not None:
            run.update(pod)
        elif pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            run = self.runs[uid] = PodRun(self.core, pod, self.root, self.server, self.grace)
            self._spawn(run.run())

    async def _finalise_deletion(self, pod: Obj, run: PodRun | None) -> None:
        meta = pod["metadata"]
        if run is not None:
            await run.kill(min(float(meta.get("deletionGracePeriodSeconds") or 0), self.grace))
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                "preconditions": {"uid": meta["uid"]}}
        try:
            await self.core.delete_namespaced_pod(meta["name"], meta["namespace"], body=body)
        except ApiException as e:
            if e.status not in (404, 409):
                raise

    async def _forget(self, run: PodRun) -> None:
        await run.kill(0.0)
        for key in [k for k in self.server.logs if k[:2] == (run.ns, run.name)]:
            if self.server.logs[key].path.is_relative_to(run.dir):
                del self.server.logs[key]

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("node agent task failed", exc_info=task.exception())
