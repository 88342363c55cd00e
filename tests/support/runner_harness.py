"""Driving the runner in tests: a run's events on a real bus, and the runner in-process.

`RunnerEnv` holds a connected bus (streams in place), the KV resource store, a file:// object
store and the runner's home. `started_run` publishes RunRequested, RunAccepted (a one-step config
snapshot) and StepScheduled, as the scheduler would; `finished` polls the run's history.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from adapters.object_store import FsspecObjectStore
from api.pipelineconfig import PipelineConfigSpec, Step
from api.pipelinerun import PipelineRunSpec
from events import run as ev
from events.codec import AnyEvent
from events.subjects import run_subject
from projections.run_context import RunContext, evolve
from services.runner.claims import claims_under, new_claim, read_claim, settle, try_claim
from services.runner.config import RunnerSettings
from services.runner.service import Runner, step_deps
from services.runner.step_files import Started, StepFiles, StopRequest, read_outcome, request_stop
from steps.naming import job_name
from steps.plans import StepRef, plan
from tests.integration.conftest import bus_settings, eventually
from tests.support.git_daemon import GitDaemon, GitRepo

NS, CONFIG = "team-a", "app-ci"


@dataclass
class RunnerEnv:
    bus: NatsBus
    store: KvStore
    objects: FsspecObjectStore
    home: Path

    def settings(self, **overrides: object) -> RunnerSettings:
        values: dict[str, object] = {"home": str(self.home), "kill_grace_seconds": 0.5, "poll_seconds": 0.05}
        return RunnerSettings(**(values | overrides))  # type: ignore[arg-type]

    def runner(self, **overrides: object) -> Runner:
        settings = self.settings(**overrides)
        return Runner(step_deps(settings, self.bus, self.objects), self.store, settings)

    def files(self, run: str, uid: str, step: str) -> StepFiles:
        ref = StepRef(namespace=NS, run=run, uid=uid, step=step, job_name=job_name(run, step))
        return StepFiles.of(self.home, ref)


@contextlib.asynccontextmanager
async def running(runner: Runner) -> AsyncIterator[Runner]:
    """The runner consuming in the background until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield runner
    finally:
        stop.set()
        await task


def ident(run: str, uid: str) -> ev.RunIdentity:
    return ev.RunIdentity(namespace=NS, run=run, uid=uid, at=datetime.now(UTC))


def run_events(
    step: Step,
    *,
    repository: str,
    commit: str,
    run: str = "app-ci-1",
    uid: str = "uid-1",
    auth_secret_ref: str | None = None,
) -> list[AnyEvent]:
    spec = PipelineRunSpec(pipeline_config_ref=CONFIG, commit=commit, branch="main")
    snapshot = PipelineConfigSpec(repository=repository, steps=[step])
    return [
        ev.RunRequested(spec=spec, **ident(run, uid)),
        ev.RunAccepted(config=CONFIG, snapshot=snapshot, auth_secret_ref=auth_secret_ref, **ident(run, uid)),
        ev.StepScheduled(step=step.name, job_name=job_name(run, step.name), **ident(run, uid)),
    ]


async def history(bus: NatsBus, run: str = "app-ci-1") -> list[ev.RunEvent]:
    return [r.event for r in await bus.history(run_subject(NS, run)) if isinstance(r.event, ev.RunEvent)]


async def finished(bus: NatsBus, step: str, run: str = "app-ci-1", deadline: float = 20.0) -> ev.StepFinished:
    async def check() -> ev.StepFinished | None:
        return next(
            (e for e in await history(bus, run) if isinstance(e, ev.StepFinished) and e.step == step), None
        )

    return await eventually(check, deadline)


async def count(bus: NatsBus, kind: type[ev.RunEvent], run: str = "app-ci-1") -> int:
    return sum(isinstance(e, kind) for e in await history(bus, run))


async def stop_leftovers(home: Path) -> None:
    """End every step still running under a shim, so no test leaves processes behind."""
    for path in claims_under(home):
        files = StepFiles.of(home, read_claim(path).plan.ref)
        if read_outcome(files) is None:
            request_stop(files, StopRequest(reason="Cancelled", message="test teardown"))
            settled = await asyncio.wait_for(settle(files, 0.05, _ignore), 10)
            if isinstance(settled, int):  # never started: nothing runs
                os.close(settled)


async def _ignore(started: Started) -> None:
    return None


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (an unreaped orphan counts as dead)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def escapee(pid_file: Path, seconds: int, *, quiet: bool = False, ignore_term: bool = False) -> str:
    """A command that starts `sleep` in a session of its own (`setsid`, in the background) and
    records its pid in `pid_file`; `quiet` detaches it from the step's output."""
    trap = "trap '' TERM; " if ignore_term else ""
    inner = f"{trap}echo $$ > {pid_file}.tmp && mv {pid_file}.tmp {pid_file}; exec sleep {seconds}"
    redirect = " >/dev/null 2>&1" if quiet else ""
    return f'setsid sh -c "{inner}"{redirect} &'


def wait_for_file(path: Path) -> str:
    """A command that waits until `path` exists (the step's own poll, not the test's)."""
    return f"while [ ! -f {path} ]; do sleep 0.01; done"


@contextlib.asynccontextmanager
async def runner_env(server: NatsServer, base: Path) -> AsyncIterator[RunnerEnv]:
    """A RunnerEnv under `base` (streams and buckets in place); steps left running are ended."""
    bus = await NatsBus.connect(bus_settings(server))
    await bus.ensure_streams()
    store = KvStore.from_connection(bus.connection)
    await store.ensure_buckets()
    home, objects = base / "home", FsspecObjectStore((base / "objects").as_uri())
    try:
        yield RunnerEnv(bus=bus, store=store, objects=objects, home=home)
    finally:
        await stop_leftovers(home)
        await bus.close()


@contextlib.contextmanager
def served_repo(base: Path) -> Iterator[tuple[str, str]]:
    """app.git with one commit, served over git://: (url, commit)."""
    repo = GitRepo.create(base / "repos" / "app.git")
    sha = repo.commit({"version.txt": "1\n"}, "first")
    with GitDaemon(base / "repos") as daemon:
        yield daemon.url("app.git"), sha


def claim_as_a_dead_runner(env: RunnerEnv, events: list[AnyEvent]) -> None:
    """Leave on disk what a runner killed right after claiming the run's step leaves: the claim,
    its lock free, nothing else."""
    ctx = functools.reduce(evolve, [e for e in events if isinstance(e, ev.RunEvent)], RunContext())
    scheduled = next(e for e in events if isinstance(e, ev.StepScheduled))
    step_plan = plan(ctx, scheduled.step)
    fd = try_claim(StepFiles.of(env.home, step_plan.ref), new_claim(step_plan, datetime.now(UTC)))
    assert fd is not None, "the step was claimed already"
    os.close(fd)
