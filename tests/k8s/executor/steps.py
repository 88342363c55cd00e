"""Helpers of the executor-side tests on the real plane: step plans whose commands the test node
agent can run, the PipelineRun CR that owns their Jobs, the job-watcher running as a task."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from adapters.jetstream.bus import NatsBus
from adapters.kube.connection import KubeConnection
from adapters.kube.workloads import KubeWorkloads
from api.pipelineconfig import SecretEnv, Step
from events.run import RunEvent
from events.subjects import run_subject
from services.job_watcher.service import JobWatcher, serve
from steps.naming import job_name
from steps.plans import StepPlan, StepRef
from tests.k8s.workloads import unique

REPO = Path(__file__).resolve().parents[3]
CRD_DIR = REPO / "deploy" / "300-crds"
#: The node agent ignores images: the artifacts container runs this interpreter, which has c8s.
SIDECAR_COMMAND = (sys.executable, "-m", "services.artifact_sidecar")


async def pipeline_run(api: client.ApiClient, namespace: str) -> tuple[str, str]:
    """Create a PipelineRun CR; returns its name and uid (the owner of the run's Jobs)."""
    body = {"apiVersion": "c8s.dev/v1alpha1", "kind": "PipelineRun", "metadata": {"name": unique("run")},
            "spec": {"pipelineConfigRef": "ci", "commit": "0" * 40, "branch": "main"}}
    custom: Any = client.CustomObjectsApi(api)
    created = await custom.create_namespaced_custom_object(
        "c8s.dev", "v1alpha1", namespace, "pipelineruns", body)
    return created["metadata"]["name"], created["metadata"]["uid"]


async def plan_for(api: client.ApiClient, namespace: str, repo: tuple[str, str], *commands: str,
                   seconds: int = 120, **step: Any) -> StepPlan:
    run, uid = await pipeline_run(api, namespace)
    name = step.pop("name", "build")
    ref = StepRef(namespace=namespace, run=run, uid=uid, step=name, job_name=job_name(run, name))
    secrets: list[SecretEnv] = step.get("secrets", [])
    return StepPlan(ref=ref, step=Step(name=name, image="busybox:1.36", commands=list(commands), **step),
                    repository=repo[0], commit=repo[1], branch="main", auth_secret_ref=None,
                    env={"C8S_RUN": run, "C8S_STEP": name, "COMMIT_SHA": repo[1]}, secrets=secrets,
                    timeout_seconds=seconds)


@contextlib.asynccontextmanager
async def job_watcher(bus: NatsBus, kube: KubeConnection, start_deadline: float = 60.0
                      ) -> AsyncIterator[asyncio.Event]:
    """The job-watcher serving until the block ends (set the yielded event to stop it earlier)."""
    stop = asyncio.Event()
    watcher = JobWatcher(bus, KubeWorkloads(kube), timedelta(seconds=start_deadline))
    task = asyncio.create_task(serve(watcher, stop, tick_seconds=0.5))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def step_events(bus: NatsBus, ref: StepRef) -> list[RunEvent]:
    """Every stored event of the step's run, in order."""
    return [r.event for r in await bus.history(run_subject(ref.namespace, ref.run))
            if isinstance(r.event, RunEvent)]
