"""The Executor port's contract (ports/execution.py), run against every adapter.

`ExecutorContract` holds the tests; each adapter gets a subclass with a `step_harness` fixture
yielding a tests.support.step_harness.StepHarness. Here: local mode (LocalExecutor, whose steps the
runner runs when the scheduler's StepScheduled names them, on a real nats-server); the Kubernetes
adapter (Jobs on the real control plane) subclasses it in tests/k8s/executor/.

Covers: start returns the step's deterministic workload name (StepRef.job_name), twice, and the
step then runs once, as the one workload in its namespace; the step runs its commands in order in a
checkout of the plan's commit, its output whole up to a failing command; cancel of a step never
started is harmless, twice, and creates nothing; cancel of a running step, twice, stops it long
before its commands would end, keeps the workload, and keeps what it printed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.jetstream.server import NatsServer
from tests.integration.conftest import eventually
from tests.support.step_harness import HELLO, Following, StepHarness, local_step_harness, read_all

#: Generous: a Kubernetes step's pod is scheduled, checked out and started in a few seconds.
DEADLINE = 60.0


class ExecutorContract:
    """The contract tests; a subclass provides the `step_harness` fixture."""

    async def test_start_is_idempotent_and_names_the_workload(self, step_harness: StepHarness) -> None:
        """start returns StepRef.job_name each time; the step runs once, its namespace's one workload."""
        h = step_harness
        plan = await h.plan("echo once")
        for _ in range(2):
            name = await h.executor.start(plan)
            assert name == plan.ref.job_name
            await h.scheduled(plan, name)
        assert await read_all(h.logs, plan.ref, DEADLINE) == b"once\n"
        assert await h.workloads(plan.ref.namespace) == [plan.ref.job_name]

    async def test_step_runs_in_a_checkout_of_the_commit(self, step_harness: StepHarness) -> None:
        """The commands run in order in the commit's checkout; a failing one ends the step."""
        h = step_harness
        plan = await h.plan(
            "cat hello.txt",
            "for i in 1 2 3; do echo line $i; done",
            'echo "commit $(git rev-parse HEAD)"',
            "exit 3",
            "echo never",
        )
        await h.scheduled(plan, await h.executor.start(plan))
        out = await read_all(h.logs, plan.ref, DEADLINE)
        assert out.decode() == f"{HELLO}line 1\nline 2\nline 3\ncommit {h.commit}\n"

    async def test_cancel_of_a_step_never_started_is_harmless(self, step_harness: StepHarness) -> None:
        """Cancelling a step that was never started, twice, neither fails nor creates a workload."""
        h = step_harness
        plan = await h.plan("echo never")
        await h.executor.cancel(plan.ref)
        await h.executor.cancel(plan.ref)
        await h.cancelled(plan.ref)
        assert await h.workloads(plan.ref.namespace) == []

    async def test_cancel_stops_a_running_step_and_keeps_its_output(self, step_harness: StepHarness) -> None:
        """Cancel (twice) ends a running step long before its sleep; its workload and log stay."""
        h = step_harness
        plan = await h.plan("echo started", "sleep 300", "echo never")
        await h.scheduled(plan, await h.executor.start(plan))
        following = Following(h.logs, plan.ref)
        try:
            await eventually(lambda: _has(following, b"started\n"), DEADLINE)
            await h.executor.cancel(plan.ref)
            await h.executor.cancel(plan.ref)
            await h.cancelled(plan.ref)
            assert await following.end(DEADLINE) == b"started\n"
        finally:
            await following.close()
        assert await h.workloads(plan.ref.namespace) == [plan.ref.job_name]
        assert await read_all(h.logs, plan.ref, DEADLINE) == b"started\n"


async def _has(following: Following, output: bytes) -> bool:
    return following.received == output


class TestLocalExecutorContract(ExecutorContract):
    @pytest.fixture
    async def step_harness(self, nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[StepHarness]:
        async with local_step_harness(nats_server, tmp_path) as harness:
            yield harness
