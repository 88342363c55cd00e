"""What the Executor and StepLogs contract suites run steps with: a harness per adapter pair.

A StepHarness holds an Executor and the StepLogs of the same mode, makes fresh step plans whose
repository (one commit, `hello.txt`) the mode can check out, and stands in for the rest of c8s
where the port alone does nothing: `scheduled`/`cancelled` do what the scheduler does after
Executor.start/cancel (local mode: publish StepScheduled/RunCancelled, which the runner acts on;
Kubernetes mode: nothing, the Job is the request). `workloads` lists the workloads that exist in a
step's namespace, read from the backend (local: the runner's claims; Kubernetes: the Jobs).

`LocalStepHarness` is local mode for real: a nats-server, the KV store, the repository served by
`git daemon` (a run's repository is a URL) and the runner consuming in the background, so steps
run under the runner's shim exactly as `c8s dev up` runs them.
`Following` reads a step's output in the background, so a test can look at it while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from adapters.local.executor import LocalExecutor
from adapters.local.steplogs import LocalStepLogs
from adapters.object_store import FsspecObjectStore
from api.pipelineconfig import Step
from events import run as ev
from events.subjects import run_subject
from ports.bus import run_events
from ports.execution import Executor, StepLogs
from projections.run_progress import fold_run
from services.runner.claims import claims_under, read_claim
from steps.plans import StepPlan, StepRef, plan
from tests.integration.conftest import bus_settings
from tests.support.git_daemon import GitDaemon, GitRepo
from tests.support.runner_harness import RunnerEnv, running, stop_leftovers
from tests.support.runner_harness import run_events as runner_events

#: The file every harness's repository holds at its one commit.
HELLO = "hello from the repo\n"


class StepHarness(Protocol):
    @property
    def executor(self) -> Executor: ...
    @property
    def logs(self) -> StepLogs: ...

    async def plan(self, *commands: str) -> StepPlan:
        """The plan of step `build` (these commands) of a fresh run of the harness's repository."""
        ...

    async def scheduled(self, plan: StepPlan, workload: str) -> None:
        """What the scheduler does once Executor.start(plan) returned `workload`."""
        ...

    async def cancelled(self, ref: StepRef) -> None:
        """What the scheduler does besides Executor.cancel(ref) when it cancels the run."""
        ...

    async def workloads(self, namespace: str) -> list[str]:
        """The names of the step workloads that exist in `namespace`, sorted."""
        ...

    @property
    def commit(self) -> str: ...


def repository(directory: Path) -> tuple[Path, str]:
    """A git repository with one commit holding hello.txt: its directory and the commit."""
    repo = GitRepo.create(directory)
    return directory, repo.commit({"hello.txt": HELLO}, "first")


class Following:
    """One follow(ref) of a step, read into `received` in the background."""

    def __init__(self, logs: StepLogs, ref: StepRef) -> None:
        self.chunks: list[bytes] = []
        self.task = asyncio.create_task(self._read(logs, ref))

    async def _read(self, logs: StepLogs, ref: StepRef) -> bytes:
        async for chunk in logs.follow(ref):
            self.chunks.append(chunk)
        return self.received

    @property
    def received(self) -> bytes:
        return b"".join(self.chunks)

    async def end(self, within: float = 60.0) -> bytes:
        """Everything follow yielded, once it ended (fails after `within` seconds)."""
        return await asyncio.wait_for(self.task, within)

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


async def read_all(logs: StepLogs, ref: StepRef, within: float = 60.0) -> bytes:
    """A whole follow(ref), from its first chunk to its end."""
    following = Following(logs, ref)
    try:
        return await following.end(within)
    finally:
        await following.close()


class LocalStepHarness:
    """Local mode: LocalExecutor and LocalStepLogs over the home of a runner consuming a real bus."""

    namespace = "team-a"

    def __init__(self, env: RunnerEnv, repo: tuple[str, str]) -> None:
        self.env, (self.url, self.commit) = env, repo
        self.executor, self.logs = LocalExecutor(), LocalStepLogs(env.home, poll_seconds=0.02)

    async def plan(self, *commands: str) -> StepPlan:
        run, uid = f"run-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        step = Step(name="build", image="alpine:3", commands=list(commands))
        await self.env.bus.publish_many(
            runner_events(step, repository=self.url, commit=self.commit, run=run, uid=uid)[:2]
        )
        history = run_events(await self.env.bus.history(run_subject(self.namespace, run)))
        return plan(fold_run(history, uid).ctx, "build")

    async def scheduled(self, plan: StepPlan, workload: str) -> None:
        ref = plan.ref
        await self.env.bus.publish(ev.StepScheduled(step=ref.step, job_name=workload, **_identity(ref)))

    async def cancelled(self, ref: StepRef) -> None:
        await self.env.bus.publish(ev.RunCancelled(message="cancelled by the test", **_identity(ref)))

    async def workloads(self, namespace: str) -> list[str]:
        claimed = (read_claim(path).plan.ref for path in claims_under(self.env.home))
        return sorted(ref.job_name for ref in claimed if ref.namespace == namespace)


def _identity(ref: StepRef) -> ev.RunIdentity:
    return ev.RunIdentity(namespace=ref.namespace, run=ref.run, uid=ref.uid, at=datetime.now(UTC))


@contextlib.asynccontextmanager
async def local_step_harness(server: NatsServer, directory: Path) -> AsyncIterator[LocalStepHarness]:
    """A LocalStepHarness with its runner consuming until the block ends; no step outlives it."""
    bus = await NatsBus.connect(bus_settings(server))
    await bus.ensure_streams()
    store = KvStore.from_connection(bus.connection)
    await store.ensure_buckets()
    objects = FsspecObjectStore((directory / "objects").as_uri())
    env = RunnerEnv(bus=bus, store=store, objects=objects, home=directory / "home")
    repo, commit = repository(directory / "repos" / "app.git")
    try:
        with GitDaemon(repo.parent) as daemon:
            async with running(env.runner()):
                yield LocalStepHarness(env, (daemon.url(repo.name), commit))
    finally:
        await stop_leftovers(env.home)
        await bus.close()
