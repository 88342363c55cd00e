"""The StepLogs port in Kubernetes mode: the step container's output through pods/log.

follow(ref) finds the step's pod (label `batch.kubernetes.io/job-name` = the step's Job), waits
until its `step` container has started, then streams pods/log with follow=true from the first
byte until the stream ends. If it ends while the container still runs, or breaks with an error
(the apiserver or kubelet dropped it), the log is read again *from the start and the bytes
already yielded are skipped*: exact, where resuming with sinceTime (one-second resolution, a
whole line per timestamp) could repeat or lose bytes. It ends when a stream ended cleanly with
the container terminated, or when a stream read entirely after termination ended.

A pod that ends without its step container ever starting (a failed checkout, a cancel before
start) has no output: follow ends at once. So does a step whose pod never appears within
`appear_seconds` or is deleted (the Job's backstop deadline deletes its pods), with what was read.

No start-time snapshot of secret values exists in this mode (start_secrets is empty: the pod got
its values from secretKeyRef when its container was created, and old Secret versions cannot be
read back); nothing local to release either: the pod and its log go with the Job's TTL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import structlog
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from adapters.kube.connection import KubeConnection
from adapters.kube.shapes import Pod, pod_state
from ports.step_workloads import ContainerState, PodState
from steps.job_manifest import STEP_CONTAINER
from steps.plans import StepRef

log = structlog.get_logger(__name__)


class KubeStepLogs:
    def __init__(
        self, connection: KubeConnection, poll_seconds: float = 0.5, appear_seconds: float = 120.0
    ) -> None:
        self.connection = connection
        self.poll_seconds, self.appear_seconds = poll_seconds, appear_seconds

    async def start_secrets(self, ref: StepRef) -> list[bytes]:
        return []

    async def release(self, ref: StepRef) -> None:
        return None

    async def release_run(self, namespace: str, run: str, uid: str) -> None:
        return None

    async def follow(self, ref: StepRef) -> AsyncIterator[bytes]:
        core: Any = client.CoreV1Api(await self.connection.api())
        pod = await self._started_pod(core, ref)
        if pod is None:
            return
        sent = 0
        while True:
            ended_before = _ended(await self._step(core, ref.namespace, pod))
            skip, clean = sent, True
            try:
                async for chunk in _stream(core, ref.namespace, pod):
                    chunk, skip = chunk[skip:], max(0, skip - len(chunk))
                    if chunk:
                        sent += len(chunk)
                        yield chunk
            except (aiohttp.ClientError, TimeoutError) as e:
                log.info("steplogs.resume", pod=pod, bytes=sent, error=repr(e))
                clean = False
            state = await self._step(core, ref.namespace, pod)
            if state is None or (clean and (ended_before or _ended(state))):
                return

    async def _started_pod(self, core: Any, ref: StepRef) -> str | None:
        """The pod whose step container started; None if the pod ended without it, or never came."""
        deadline = time.monotonic() + self.appear_seconds
        while time.monotonic() < deadline:
            pods = await _pods(core, ref)
            ran = [p for p in pods if _started(p.container(STEP_CONTAINER))]
            if ran:
                return ran[0].name
            if pods and all(p.terminal or p.deleting for p in pods):
                return None
            await asyncio.sleep(self.poll_seconds)
        log.warning("steplogs.no_pod", job=ref.job_name, waited=self.appear_seconds)
        return None

    async def _step(self, core: Any, namespace: str, pod: str) -> ContainerState | None:
        """The step container's state, None once the pod is gone."""
        try:
            resp = await core.read_namespaced_pod(pod, namespace, _preload_content=False)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        state = pod_state(msgspec.convert(await resp.json(), Pod))
        return state.container(STEP_CONTAINER)


async def _pods(core: Any, ref: StepRef) -> list[PodState]:
    selector = f"batch.kubernetes.io/job-name={ref.job_name}"
    resp = await core.list_namespaced_pod(ref.namespace, label_selector=selector, _preload_content=False)
    body = await resp.json()
    return [pod_state(msgspec.convert(p, Pod)) for p in body["items"]]


async def _stream(core: Any, namespace: str, pod: str) -> AsyncIterator[bytes]:
    resp = await core.read_namespaced_pod_log(
        pod, namespace, container=STEP_CONTAINER, follow=True, _preload_content=False
    )
    try:
        async for chunk in resp.content.iter_any():
            yield chunk
    finally:
        resp.release()


def _started(c: ContainerState | None) -> bool:
    return c is not None and (c.phase == "running" or (c.phase == "terminated" and c.started_at is not None))


def _ended(c: ContainerState | None) -> bool:
    return c is None or c.phase == "terminated"
