"""The Executor port in Kubernetes mode: one Job per step (steps.job_manifest).

- start creates the Job; AlreadyExists means a previous attempt created it (the name is
  deterministic), so it is done (the first Job keeps its own upload token). For a step with
  artifacts it mints the step's upload token (steps.upload_grant) with the upload key
  (`C8S_ARTIFACT_UPLOAD_KEY`): the pod gets that token and c8s's upload endpoint
  (`C8S_ARTIFACT_UPLOAD_URL`), never a storage credential, and nothing is written to the team's
  namespace but the Job.
- cancel must not lose the step's log ("a Job is not deleted before its log is shipped"), so it
  neither deletes the Job nor suspends it or shortens the Job's deadline (the job controller
  would *delete* the pods, and pods/log with them). It annotates the Job (`c8s.dev/cancelled`,
  so the job-watcher reports Cancelled) and sets each live pod's `activeDeadlineSeconds` to 1,
  a field a pod may change at any time: the kubelet kills the containers and keeps the pod,
  Failed with reason DeadlineExceeded, and its log readable. A Job with no pod yet is suspended:
  no pod will be created, and there is no log to keep. The Job is deleted by its TTL afterwards.
Kubernetes outages leave as StoreUnavailable (the scheduler's handler retries them). A 403 leaves
as NotOnboarded: the scheduler creates Jobs and patches pods only in namespaces that lend it
ClusterRole c8s-team-step-runner (`c8s team onboard`), and retrying will not help.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from msgspec import Struct

from adapters.kube.connection import MERGE_PATCH, KubeConnection, outage
from adapters.kube.errors import translate
from adapters.runtime.settings import CommonSettings, from_env
from ports.resources import Forbidden, NotOnboarded, StoreUnavailable
from steps.job_manifest import ANNOTATION_CANCELLED, PodTools, job_manifest
from steps.plans import StepPlan, StepRef
from steps.upload_grant import expiry, mint

_TERMINAL = ("Succeeded", "Failed")


class PodToolSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`C8S_CHECKOUT_IMAGE`, `C8S_ARTIFACTS_IMAGE`, `C8S_ARTIFACTS_COMMAND` (split like a shell),
    `C8S_ARTIFACT_UPLOAD_URL` (the job-watcher's upload endpoint as pods reach it) and
    `C8S_ARTIFACT_UPLOAD_KEY` (the key upload tokens are signed with)."""

    checkout_image: str = PodTools().checkout_image
    artifacts_image: str = PodTools().artifacts_image
    artifacts_command: str = shlex.join(PodTools().artifacts_command)
    artifact_upload_url: str = ""
    artifact_upload_key: str = ""


def kube_executor(settings: CommonSettings, env: Mapping[str, str] | None = None) -> KubeExecutor:
    """The executor for `settings`, its pod tools and upload key from the environment."""
    source = os.environ if env is None else env
    tools = from_env(PodToolSettings, source)
    pod_tools = PodTools(
        checkout_image=tools.checkout_image,
        artifacts_image=tools.artifacts_image,
        artifacts_command=tuple(shlex.split(tools.artifacts_command)),
        object_store_url=settings.object_store_url,
        upload_url=tools.artifact_upload_url,
    )
    return KubeExecutor(KubeConnection(settings.kubeconfig), pod_tools, tools.artifact_upload_key.encode())


class KubeExecutor:
    def __init__(
        self,
        connection: KubeConnection,
        tools: PodTools,
        upload_key: bytes = b"",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connection, self.tools, self.upload_key, self.clock = connection, tools, upload_key, clock

    async def start(self, plan: StepPlan) -> str:
        with _outages(plan.ref.namespace, f"creating Job {plan.ref.namespace}/{plan.ref.job_name}"):
            await self._create(job_manifest(plan, self.tools, self._upload_token(plan)))
        return plan.ref.job_name

    def _upload_token(self, plan: StepPlan) -> str:
        """The step's upload token; none without artifacts or an upload key (uploads then fail)."""
        if not plan.step.artifacts or not self.upload_key:
            return ""
        return mint(self.upload_key, plan.ref, expiry(self.clock(), plan.timeout_seconds))

    async def cancel(self, ref: StepRef) -> None:
        with _outages(ref.namespace, f"cancelling Job {ref.namespace}/{ref.job_name}"):
            if not await self._annotate_cancelled(ref):
                return
            if not await self._expire_pods(ref):
                await self._patch_job(ref, {"spec": {"suspend": True}})

    async def _create(self, body: dict[str, Any]) -> None:
        batch: Any = client.BatchV1Api(await self.connection.api())
        try:
            await batch.create_namespaced_job(body["metadata"]["namespace"], body)
        except ApiException as e:
            if e.status != 409:
                raise

    async def _annotate_cancelled(self, ref: StepRef) -> bool:
        """False when the Job does not exist (never created, or collected): nothing to stop."""
        return await self._patch_job(ref, {"metadata": {"annotations": {ANNOTATION_CANCELLED: "true"}}})

    async def _patch_job(self, ref: StepRef, body: dict[str, Any]) -> bool:
        batch: Any = client.BatchV1Api(await self.connection.api())
        try:
            await batch.patch_namespaced_job(ref.job_name, ref.namespace, body, _content_type=MERGE_PATCH)
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    async def _expire_pods(self, ref: StepRef) -> bool:
        """Give every pod of the Job a 1-second deadline; False when the Job has no pod yet."""
        core: Any = client.CoreV1Api(await self.connection.api())
        selector = f"batch.kubernetes.io/job-name={ref.job_name}"
        pods = (await core.list_namespaced_pod(ref.namespace, label_selector=selector)).items
        for pod in pods:
            if pod.status is None or pod.status.phase not in _TERMINAL:
                await _expire(core, ref.namespace, pod.metadata.name)
        return bool(pods)


async def _expire(core: Any, namespace: str, pod: str) -> None:
    try:
        await core.patch_namespaced_pod(
            pod, namespace, {"spec": {"activeDeadlineSeconds": 1}}, _content_type=MERGE_PATCH
        )
    except ApiException as e:
        # 404: gone already; 422: it already has a deadline of 1 or is terminating.
        if e.status not in (404, 422):
            raise


@contextlib.contextmanager
def _outages(namespace: str, doing: str) -> Iterator[None]:
    try:
        yield
    except (ApiException, OSError, TimeoutError) as e:
        if outage(e):
            raise StoreUnavailable(f"{doing}: {e}") from e
        error = translate(e, doing)
        if isinstance(error, Forbidden):
            raise NotOnboarded(namespace, str(error)) from e
        raise
