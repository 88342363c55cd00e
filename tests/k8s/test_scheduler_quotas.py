"""The scheduler's quota handling against ResourceQuotas on the real apiserver: a run's config read
through KubeStore and the namespace's quotas through KubeQuotas, fed to acceptance and the decider.

Covers: a step beyond a quota's hard limit rejects the run (QuotaExceeded, naming step, resource,
request, limit); a run that fits is accepted and, with a `pods: 1` quota, the decider starts one of
two ready steps and the other once the first finished. The plane runs no resourcequota controller,
so `used` stays empty and the scheduler's own charging of in-flight steps is what holds steps back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from kubernetes_asyncio import client

from adapters.kube.client import KubeSettings
from adapters.kube.quotas import KubeQuotas
from adapters.kube.store import KubeStore
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig, PipelineConfigSpec, Resources, Step
from api.pipelinerun import PipelineRunSpec
from api.quotas import charged
from events import run as ev
from projections import run_context
from projections import run_progress as progress
from projections.run_context import RunContext
from services.scheduler import accepting
from services.scheduler.deciding import StartStep, decide, in_flight
from tests.k8s.test_crds import crds  # noqa: F401 - the session fixture that applies the CRDs
from tests.support.runs import at

pytestmark = [pytest.mark.k8s, pytest.mark.usefixtures("crds")]


def step(name: str, cpu: str) -> Step:
    return Step(name=name, image="alpine", commands=["true"], resources=Resources(cpu=cpu, memory="256Mi"))


async def accept(k8s_api: client.ApiClient, namespace: str, *steps: Step) -> ev.RunAccepted | ev.RunRejected:
    store = KubeStore(k8s_api, KubeSettings())
    spec = PipelineConfigSpec(repository="https://example.com/o/r", steps=list(steps))
    await store.create(PipelineConfig(metadata=ObjectMeta(namespace=namespace, name="app-ci"), spec=spec))
    ident: dict[str, Any] = {"namespace": namespace, "run": "app-ci-1", "uid": "u1", "at": at(0)}
    requested = ev.RunRequested(spec=PipelineRunSpec(pipeline_config_ref="app-ci", commit="abcdef1"), **ident)
    ctx = run_context.evolve(RunContext(), requested)
    quotas = await KubeQuotas(k8s_api).of_namespace(namespace)
    return accepting.accept(ctx, await accepting.read_inputs(store, ctx), quotas, at(1))


async def make_quota(k8s_api: client.ApiClient, namespace: str, hard: dict[str, str]) -> None:
    body: Any = {"metadata": {"name": "ci"}, "spec": {"hard": hard}}
    await client.CoreV1Api(k8s_api).create_namespaced_resource_quota(namespace, body)


async def test_a_step_beyond_the_quota_rejects_the_run(k8s_api: client.ApiClient, namespace: str) -> None:
    """A 4-core step against a 2-core requests.cpu quota is QuotaExceeded with the reason spelled out."""
    await make_quota(k8s_api, namespace, {"requests.cpu": "2"})
    result = await accept(k8s_api, namespace, step("build", "1"), step("bench", "4"))
    assert isinstance(result, ev.RunRejected) and result.reason == "QuotaExceeded"
    assert (
        "step 'bench' requests cpu 4 but ResourceQuota 'ci' allows at most 2 (requests.cpu)" in result.message
    )


async def test_steps_wait_for_a_pod_quota(k8s_api: client.ApiClient, namespace: str) -> None:
    """With `pods: 1`, one of two ready steps starts; the other starts once the first finished."""
    await make_quota(k8s_api, namespace, {"pods": "1", "requests.cpu": "2"})
    accepted = await accept(k8s_api, namespace, step("a", "1"), step("b", "1"))
    assert isinstance(accepted, ev.RunAccepted)
    state = progress.RunProgress()
    for e in (
        ev.RunRequested(
            spec=PipelineRunSpec(pipeline_config_ref="app-ci", commit="abcdef1"),
            namespace=namespace,
            run="app-ci-1",
            uid="u1",
            at=at(0),
        ),
        accepted,
    ):
        state = progress.evolve(state, e)
    quotas = await KubeQuotas(k8s_api).of_namespace(namespace)

    def started() -> list[str]:
        free = charged(quotas, in_flight([state]))
        return [
            d.plan.step.name
            for d in decide(state, at(2), timedelta(seconds=30), free)
            if isinstance(d, StartStep)
        ]

    assert started() == ["a"]
    ident: dict[str, Any] = {"namespace": namespace, "run": "app-ci-1", "uid": "u1"}
    state = progress.evolve(state, ev.StepScheduled(step="a", job_name="j-a", at=at(2), **ident))
    assert started() == []
    state = progress.evolve(state, ev.StepFinished(step="a", exit_code=0, at=at(3), **ident))
    assert started() == ["b"]
