"""The job-watcher on the real plane with a real nats-server: a step exiting 3 gives StepStarted then
StepFinished(3, Error); a step past its timeout gives Timeout; a cancelled step gives
Cancelled; the artifacts container's termination message becomes ArtifactUploaded (files really in
the object store) before StepFinished; a pod stuck on a missing Secret fails with
CreateContainerConfigError after the start deadline and its Job is stopped; a watcher restarted
mid-step reports exactly one StepStarted and one StepFinished; a Job deleted by hand mid-step
(`kubectl delete job`) gives StepFinished JobDeleted instead of a step left running forever."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from adapters.jetstream.bus import NatsBus
from adapters.kube.connection import KubeConnection
from adapters.kube.jobs import KubeExecutor
from api.pipelineconfig import SecretEnv
from events.run import ArtifactUploaded, RunEvent, StepFinished, StepStarted
from steps.plans import StepRef
from tests.k8s.executor.steps import job_watcher, plan_for, step_events
from tests.k8s.waiting import eventually

pytestmark = [pytest.mark.k8s, pytest.mark.usefixtures("c8s_crds")]


async def finished(bus: NatsBus, ref: StepRef, within: float = 30) -> list[RunEvent]:
    """The step's events once its StepFinished is stored."""
    async def check() -> list[RunEvent]:
        events = await step_events(bus, ref)
        return events if any(isinstance(e, StepFinished) for e in events) else []
    return await eventually(check, what=f"StepFinished of {ref.job_name}", within=within)


def kinds(events: list[RunEvent]) -> list[str]:
    return [e.type for e in events]


async def test_exit_code_and_reason(k8s_api: client.ApiClient, namespace: str, repo: tuple[str, str],
                                    executor: KubeExecutor, kube: KubeConnection, bus: NatsBus) -> None:
    """`echo hi; exit 3` is reported as StepStarted (job, pod) then StepFinished exit 3, reason Error."""
    plan = await plan_for(k8s_api, namespace, repo, "echo hi", "exit 3")
    async with job_watcher(bus, kube):
        await executor.start(plan)
        events = await finished(bus, plan.ref)
    assert kinds(events) == ["step.started", "step.finished"]
    started, done = events
    assert isinstance(started, StepStarted) and started.job_name == plan.ref.job_name
    assert started.pod.startswith(plan.ref.job_name)
    assert isinstance(done, StepFinished)
    assert (done.exit_code, done.reason, done.step, done.uid) == (3, "Error", "build", plan.ref.uid)


async def test_deadline_exceeded(k8s_api: client.ApiClient, namespace: str, repo: tuple[str, str],
                                 executor: KubeExecutor, kube: KubeConnection, bus: NatsBus) -> None:
    """A step running past its timeout is killed and reported with reason Timeout, no exit code."""
    plan = await plan_for(k8s_api, namespace, repo, "sleep 300", seconds=2)
    async with job_watcher(bus, kube):
        await executor.start(plan)
        events = await finished(bus, plan.ref)
    done = events[-1]
    assert isinstance(done, StepFinished) and (done.exit_code, done.reason) == (None, "Timeout")


async def test_cancelled(k8s_api: client.ApiClient, namespace: str, repo: tuple[str, str],
                         executor: KubeExecutor, kube: KubeConnection, bus: NatsBus) -> None:
    """A step cancelled while running is reported as Cancelled, after its StepStarted."""
    plan = await plan_for(k8s_api, namespace, repo, "sleep 300")
    async with job_watcher(bus, kube):
        await executor.start(plan)
        await eventually(lambda: _has(bus, plan.ref, "step.started"), what="StepStarted")
        await executor.cancel(plan.ref)
        events = await finished(bus, plan.ref)
    assert kinds(events) == ["step.started", "step.finished"]
    assert isinstance(events[-1], StepFinished) and events[-1].reason == "Cancelled"


async def test_a_job_deleted_mid_step_finishes_the_step(
    k8s_api: client.ApiClient, namespace: str, repo: tuple[str, str], executor: KubeExecutor,
    kube: KubeConnection, bus: NatsBus,
) -> None:
    """Deleting a running step's Job (foreground, as kubectl does) ends the step: JobDeleted."""
    plan = await plan_for(k8s_api, namespace, repo, "sleep 300")
    async with job_watcher(bus, kube):
        await executor.start(plan)
        await eventually(lambda: _has(bus, plan.ref, "step.started"), what="StepStarted")
        await client.BatchV1Api(k8s_api).delete_namespaced_job(
            plan.ref.job_name, namespace, propagation_policy="Foreground")
        events = await finished(bus, plan.ref)
    assert kinds(events) == ["step.started", "step.finished"]
    done = events[-1]
    assert isinstance(done, StepFinished) and (done.exit_code, done.reason) == (None, "JobDeleted")


async def test_artifacts_reported(k8s_api: client.ApiClient, namespace: str, repo: tuple[str, str],
                                  executor: KubeExecutor, kube: KubeConnection, bus: NatsBus,
                                  objects_url: str) -> None:
    """Files matching the step's artifacts are uploaded by the sidecar and reported before StepFinished."""
    plan = await plan_for(k8s_api, namespace, repo, "mkdir -p out", "echo report > out/r.txt",
                          "echo other > skip.txt", artifacts=["out/**"])
    async with job_watcher(bus, kube):
        await executor.start(plan)
        events = await finished(bus, plan.ref, within=60)
    assert kinds(events) == ["step.started", "artifact.uploaded", "step.finished"]
    uploaded = events[1]
    assert isinstance(uploaded, ArtifactUploaded) and (uploaded.path, uploaded.bytes) == ("out/r.txt", 7)
    assert uploaded.url.startswith(objects_url)
    assert Path(uploaded.url.removeprefix("file://")).read_text() == "report\n"  # noqa: ASYNC240
    assert isinstance(events[-1], StepFinished) and events[-1].exit_code == 0


async def test_stuck_pod_fails_after_the_start_deadline(
    k8s_api: client.ApiClient, namespace: str, repo: tuple[str, str], executor: KubeExecutor,
    kube: KubeConnection, bus: NatsBus,
) -> None:
    """A pod waiting on a missing Secret fails with CreateContainerConfigError and its Job is suspended."""
    missing = SecretEnv(secret_ref="nope", key="token")
    plan = await plan_for(k8s_api, namespace, repo, "true", secrets=[missing])
    batch: Any = client.BatchV1Api(k8s_api)

    async def suspended() -> bool:
        return bool((await batch.read_namespaced_job(plan.ref.job_name, namespace)).spec.suspend)

    async with job_watcher(bus, kube, start_deadline=2):
        await executor.start(plan)
        events = await finished(bus, plan.ref)
        await eventually(suspended, what="the stuck Job suspended")
    assert kinds(events) == ["step.finished"]
    assert isinstance(events[0], StepFinished)
    assert (events[0].exit_code, events[0].reason) == (None, "CreateContainerConfigError")


async def test_restart_reports_once(k8s_api: client.ApiClient, namespace: str, repo: tuple[str, str],
                                    executor: KubeExecutor, kube: KubeConnection, bus: NatsBus,
                                    tmp_path: Path) -> None:
    """A watcher stopped mid-step and a new one started later report one StepStarted and one StepFinished."""
    # The node agent runs the step on this machine, so it can wait for a file the test creates.
    done = tmp_path / "done"
    plan = await plan_for(k8s_api, namespace, repo, f"while [ ! -e {done} ]; do sleep 0.1; done")
    async with job_watcher(bus, kube):
        await executor.start(plan)
        await eventually(lambda: _has(bus, plan.ref, "step.started"), what="StepStarted")
    done.touch()
    for _ in range(2):
        async with job_watcher(bus, kube):
            events = await finished(bus, plan.ref)
    assert kinds(await step_events(bus, plan.ref)) == ["step.started", "step.finished"]
    assert isinstance(events[-1], StepFinished) and events[-1].exit_code == 0


async def _has(bus: NatsBus, ref: StepRef, kind: str) -> bool:
    return kind in kinds(await step_events(bus, ref))
