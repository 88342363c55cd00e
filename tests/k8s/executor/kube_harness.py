"""The Kubernetes side of tests.support.step_harness: KubeExecutor and KubeStepLogs on the real plane.

A step is a Job in the test's fresh namespace, owned by a PipelineRun CR (tests/k8s/executor/steps),
checked out by its init container from a file:// repository and run by the test node agent as local
processes. The Job is the request, so `scheduled` and `cancelled` have nothing to add; `workloads`
lists the namespace's Jobs.
"""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from adapters.kube.connection import KubeConnection
from adapters.kube.jobs import KubeExecutor
from adapters.kube.steplogs import KubeStepLogs
from steps.plans import StepPlan, StepRef
from tests.k8s.executor.steps import plan_for


class KubeStepHarness:
    """Kubernetes mode in one namespace of the plane."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        repo: tuple[str, str],
        executor: KubeExecutor,
        kube: KubeConnection,
    ) -> None:
        self.api, self.namespace, self.repo, self.commit = api, namespace, repo, repo[1]
        self.executor, self.logs = executor, KubeStepLogs(kube, poll_seconds=0.1)

    async def plan(self, *commands: str) -> StepPlan:
        return await plan_for(self.api, self.namespace, self.repo, *commands)

    async def scheduled(self, plan: StepPlan, workload: str) -> None:
        return None

    async def cancelled(self, ref: StepRef) -> None:
        return None

    async def workloads(self, namespace: str) -> list[str]:
        batch: Any = client.BatchV1Api(self.api)
        return sorted(job.metadata.name for job in (await batch.list_namespaced_job(namespace)).items)
