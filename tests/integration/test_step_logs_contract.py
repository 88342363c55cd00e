"""The StepLogs port's contract (ports/execution.py), run against every adapter.

`StepLogsContract` holds the tests; each adapter gets a subclass with a `step_harness` fixture
yielding a tests.support.step_harness.StepHarness that runs real steps. Here: local mode
(LocalStepLogs over the files the runner's shim writes, steps run by the runner on a real
nats-server); the Kubernetes adapter (pods/log on the real control plane) subclasses it in
tests/k8s/executor/.

Covers: output arrives while the step still runs (a line, then the step waits on a gate file the
test creates only after the line arrived) and follow ends when the step ends; a step that printed
nothing gives b""; bytes that are not UTF-8 pass through unchanged; a few MB of output arrive
whole and in order, and a second follow after the step ended reads it again from the first byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.jetstream.server import NatsServer
from steps.plans import StepPlan
from tests.integration.conftest import eventually
from tests.support.step_harness import Following, StepHarness, local_step_harness, read_all

#: Generous: a Kubernetes step's pod is scheduled, checked out and started in a few seconds.
DEADLINE = 60.0
#: Lines of the large-output step: `seq 1 400000` prints about 2.7 MB.
LINES = 400_000


async def started(h: StepHarness, *commands: str) -> StepPlan:
    plan = await h.plan(*commands)
    await h.scheduled(plan, await h.executor.start(plan))
    return plan


class StepLogsContract:
    """The contract tests; a subclass provides the `step_harness` fixture."""

    async def test_output_arrives_while_the_step_runs(
        self, step_harness: StepHarness, tmp_path: Path
    ) -> None:
        """A printed line arrives while the step waits on a gate; follow ends once the step ends."""
        gate = tmp_path / "gate"
        wait = f"until [ -e {gate} ]; do sleep 0.05; done"
        plan = await started(step_harness, "echo first", wait, "echo last")
        following = Following(step_harness.logs, plan.ref)
        try:
            await eventually(lambda: _has(following, b"first\n"), DEADLINE)
            assert not following.task.done()
            gate.touch()
            assert await following.end(DEADLINE) == b"first\nlast\n"
        finally:
            await following.close()

    async def test_a_silent_step_gives_nothing(self, step_harness: StepHarness) -> None:
        """A step that printed nothing gives b"" and ends."""
        plan = await started(step_harness, "true")
        assert await read_all(step_harness.logs, plan.ref, DEADLINE) == b""

    async def test_bytes_that_are_not_utf8_pass_through(self, step_harness: StepHarness) -> None:
        """Invalid UTF-8 and control bytes arrive exactly as the step wrote them."""
        plan = await started(step_harness, r"printf '\377\376 not utf-8\r\n\000\033[31mred\n'")
        expected = b"\xff\xfe not utf-8\r\n\x00\x1b[31mred\n"
        assert await read_all(step_harness.logs, plan.ref, DEADLINE) == expected

    async def test_large_output_is_whole_in_order_and_read_again_from_the_start(
        self, step_harness: StepHarness
    ) -> None:
        """A few MB arrive whole and in order, and following again after the end reads them from byte 0."""
        plan = await started(step_harness, f"seq 1 {LINES}")
        expected = "".join(f"{i}\n" for i in range(1, LINES + 1)).encode()
        assert await read_all(step_harness.logs, plan.ref, DEADLINE) == expected
        assert await read_all(step_harness.logs, plan.ref, DEADLINE) == expected


async def _has(following: Following, output: bytes) -> bool:
    return following.received == output


class TestLocalStepLogsContract(StepLogsContract):
    @pytest.fixture
    async def step_harness(self, nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[StepHarness]:
        async with local_step_harness(nats_server, tmp_path / "harness") as harness:
            yield harness
