"""What only the Kubernetes executor promises, on the real plane: the Job a step plan becomes as the
apiserver stores it (deterministic name, labels, owner, deadlines, backoff, ttl, env with
secretKeyRef, resources, checkout init container), creating twice being harmless; cancel stops a
running pod through its deadline (Failed, DeadlineExceeded) without deleting it, annotates the Job,
and the log stays readable.

The port's contract (the step runs in a checkout of the commit and follow reads its whole output;
cancel of a step never started creates nothing) runs here as test_kube_executor_contract.py and
test_kube_step_logs_contract.py."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client

from adapters.kube.connection import KubeConnection
from adapters.kube.jobs import KubeExecutor
from adapters.kube.steplogs import KubeStepLogs
from api.pipelineconfig import Resources, SecretEnv
from steps.job_manifest import ANNOTATION_CANCELLED
from steps.plans import StepRef
from tests.k8s.executor.steps import plan_for
from tests.k8s.waiting import eventually
from tests.k8s.workloads import job_pods

pytestmark = [pytest.mark.k8s, pytest.mark.usefixtures("c8s_crds")]


async def read_job(api: client.ApiClient, ref: StepRef) -> Any:
    batch: Any = client.BatchV1Api(api)
    return await batch.read_namespaced_job(ref.job_name, ref.namespace)


async def step_pod(api: client.ApiClient, ref: StepRef, state: str) -> Any:
    """The step's pod once its `step` container is in `state` (running / terminated)."""
    async def check() -> Any:
        pods = await job_pods(client.CoreV1Api(api), ref.namespace, ref.job_name)
        for p in pods:
            for s in p.status.container_statuses or []:
                if s.name == "step" and getattr(s.state, state) is not None:
                    return p
        return None
    return await eventually(check, what=f"the step container of {ref.job_name} {state}")


async def collect(logs: KubeStepLogs, ref: StepRef) -> bytes:
    return b"".join([chunk async for chunk in logs.follow(ref)])


async def test_job_spec_as_stored(k8s_api: client.ApiClient, namespace: str, repo: tuple[str, str],
                                  executor: KubeExecutor) -> None:
    """The stored Job has the plan's name, labels, owner, deadlines, backoff, ttl, env and resources."""
    secret = SecretEnv(secret_ref="db", key="password", env_var="DB_PASSWORD")
    plan = await plan_for(k8s_api, namespace, repo, "true", seconds=90, secrets=[secret],
                          resources=Resources(cpu="250m", memory="128Mi"))
    assert await executor.start(plan) == plan.ref.job_name
    assert await executor.start(plan) == plan.ref.job_name
    job = await read_job(k8s_api, plan.ref)
    assert job.metadata.labels == job.metadata.labels | {
        "c8s.dev/run": plan.ref.run, "c8s.dev/run-uid": plan.ref.uid, "c8s.dev/step": "build",
        "app.kubernetes.io/managed-by": "c8s"}
    [owner] = job.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller, owner.block_owner_deletion) == (
        "PipelineRun", plan.ref.run, plan.ref.uid, True, True)
    spec = job.spec
    assert (spec.backoff_limit, spec.ttl_seconds_after_finished) == (0, 3600)
    assert spec.template.spec.active_deadline_seconds == 90
    assert spec.active_deadline_seconds > 90
    [main] = spec.template.spec.containers
    assert main.resources.requests == {"cpu": "250m", "memory": "128Mi"} == main.resources.limits
    env = {e.name: e for e in main.env}
    assert env["C8S_STEP"].value == "build"
    ref = env["DB_PASSWORD"].value_from.secret_key_ref
    assert (ref.name, ref.key) == ("db", "password")
    assert [c.name for c in spec.template.spec.init_containers] == ["checkout"]


async def test_cancel_keeps_the_log(k8s_api: client.ApiClient, namespace: str, repo: tuple[str, str],
                                    executor: KubeExecutor, kube: KubeConnection) -> None:
    """Cancel kills a running step through the pod's deadline; the pod stays and its log is readable."""
    plan = await plan_for(k8s_api, namespace, repo, "echo started", "sleep 300")
    await executor.start(plan)
    await step_pod(k8s_api, plan.ref, "running")
    await executor.cancel(plan.ref)
    await executor.cancel(plan.ref)
    pod = await step_pod(k8s_api, plan.ref, "terminated")
    await eventually(lambda: _phase(k8s_api, pod), what="pod Failed")
    core = client.CoreV1Api(k8s_api)
    fresh = await core.read_namespaced_pod(pod.metadata.name, namespace)
    assert (fresh.status.phase, fresh.status.reason) == ("Failed", "DeadlineExceeded")
    assert (await read_job(k8s_api, plan.ref)).metadata.annotations[ANNOTATION_CANCELLED] == "true"
    assert await collect(KubeStepLogs(kube, poll_seconds=0.1), plan.ref) == b"started\n"


async def _phase(api: client.ApiClient, pod: Any) -> bool:
    p = await client.CoreV1Api(api).read_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
    return bool(p.status.phase == "Failed")
