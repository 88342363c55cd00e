"""The runner's spare shim (services.runner.spares) against a real nats-server and real git.

Covers: one spare forks the shim of every step, several steps at once (each step's shim is a child
of the same spare process, which is still the next steps' spare afterwards); a step's shim outlives
its spare (the spare killed while steps run: they finish and are reported normally; the next
step still runs, and a new spare is started).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapters.jetstream.server import NatsServer
from api.pipelineconfig import Step
from events.codec import AnyEvent
from services.runner.step_files import read_started
from tests.integration.conftest import eventually
from tests.support.runner_harness import (
    RunnerEnv,
    finished,
    run_events,
    runner_env,
    running,
    served_repo,
    wait_for_file,
)


@pytest.fixture
async def env(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[RunnerEnv]:
    async with runner_env(nats_server, tmp_path) as e:
        yield e


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with served_repo(tmp_path) as repo:
        yield repo


def runs(gate: Path, served: tuple[str, str], n: int) -> list[list[AnyEvent]]:
    """n one-step runs (app-ci-0..n-1), each step waiting for `gate`."""
    the_step = Step(name="build", image="alpine:3", commands=["echo started", wait_for_file(gate)])
    url, sha = served
    return [
        run_events(the_step, repository=url, commit=sha, run=f"app-ci-{i}", uid=f"uid-{i}") for i in range(n)
    ]


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


async def test_one_spare_forks_the_shims_of_steps_running_at_once(
    env: RunnerEnv, served: tuple[str, str], tmp_path: Path
) -> None:
    """Three steps at once: each shim's parent is the one spare, which stays the next spare."""
    gate = tmp_path / "gate"
    async with running(env.runner(max_parallel_steps=3)) as runner:
        spare = await eventually(runner.deps.launcher.spare)
        for events in runs(gate, served, 3):
            await env.bus.publish_many(events)

        async def all_started() -> list[int] | None:
            marks = [read_started(env.files(f"app-ci-{i}", f"uid-{i}", "build")) for i in range(3)]
            return [m.shim_pid for m in marks if m is not None] if all(marks) else None

        shims = await eventually(all_started)
        assert len(set(shims)) == 3
        assert [parent_of(pid) for pid in shims] == [spare.proc.pid] * 3
        assert all(os.getsid(pid) == pid for pid in shims)  # each in a session of its own
        gate.touch()
        for i in range(3):
            assert (await finished(env.bus, "build", run=f"app-ci-{i}")).exit_code == 0
        assert await runner.deps.launcher.spare() is spare and spare.proc.returncode is None


async def test_shims_outlive_their_spare(env: RunnerEnv, served: tuple[str, str], tmp_path: Path) -> None:
    """The spare killed while two steps run: both finish and are reported; the next step still
    runs (a fresh shim) and a new spare is waiting afterwards."""
    gate = tmp_path / "gate"
    first, second, third = runs(gate, served, 3)
    async with running(env.runner(max_parallel_steps=2)) as runner:
        spare = await eventually(runner.deps.launcher.spare)
        await env.bus.publish_many(first + second)

        async def both_started() -> bool:
            return all(read_started(env.files(f"app-ci-{i}", f"uid-{i}", "build")) for i in range(2))

        await eventually(both_started)
        spare.proc.kill()
        await spare.proc.wait()
        gate.touch()
        for i in range(2):
            assert (await finished(env.bus, "build", run=f"app-ci-{i}")).exit_code == 0
        await env.bus.publish_many(third)
        assert (await finished(env.bus, "build", run="app-ci-2")).exit_code == 0
        following = await runner.deps.launcher.spare()
        assert following is not None and following is not spare and following.proc.returncode is None
