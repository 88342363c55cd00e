"""The executor and step-log ports: how a step's workload is started, stopped and read.

Kubernetes mode: one Job per step (created by the scheduler, watched by job-watcher, logs through
pods/log). Local mode: the runner process claims StepScheduled events from the stream and runs each
step as a subprocess, so the local Executor has nothing to create: the event is the request.

Contract:
- start is idempotent (deterministic workload name; an existing workload means done);
- cancel is idempotent, harmless for a step never started (it creates nothing), and returns once
  the workload is being torn down; the workload and its output stay (the log is shipped later);
- follow yields the step's raw output from its first byte, live while it runs, and ends when the
  step's output ends (the workload finished and everything it wrote was read); bytes pass through
  unchanged (not decoded), a step that printed nothing gives nothing;
- start_secrets returns the secret values the run's steps were given, as captured when each
  started (local mode: the runner's `.mask` snapshots; [] where the executor keeps none);
- release(ref) is called once the step's LogShipped is published: the raw output may go;
  release_run once the run finished: the start-time snapshots may go. Both are idempotent.

Contract suites, run against both adapters: tests/integration/test_executor_contract.py and
tests/integration/test_step_logs_contract.py (local mode there; Kubernetes mode in
tests/k8s/executor/test_kube_executor_contract.py and test_kube_step_logs_contract.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from steps.plans import StepPlan, StepRef


class Executor(Protocol):
    async def start(self, plan: StepPlan) -> str:
        """Create the step's workload; returns its name (the Job name)."""
        ...

    async def cancel(self, ref: StepRef) -> None: ...


class StepLogs(Protocol):
    def follow(self, ref: StepRef) -> AsyncIterator[bytes]: ...

    async def start_secrets(self, ref: StepRef) -> list[bytes]: ...

    async def release(self, ref: StepRef) -> None: ...

    async def release_run(self, namespace: str, run: str, uid: str) -> None: ...
