"""The scheduler and the projector together, on a real nats-server and the NATS KV store.

A scripted stand-in for the executor side (it answers each StepScheduled with StepStarted,
StepFinished and LogShipped, with exit codes chosen per step) lets these tests pin down the
control loop alone: a kubectl-style created run is requested, accepted with a snapshot, its DAG
is driven to the end, and the PipelineRun status and PipelineConfig stats are projected into the
store; a run whose config is missing is rejected with the reason; a cancel request ends the run
Cancelled; a scheduler restarted mid-run finishes the run without starting a step twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from adapters.local.executor import LocalExecutor
from adapters.runtime.tasks import stop_task
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig, PipelineConfigSpec, Step
from api.pipelinerun import PipelineRun, PipelineRunSpec
from events import run as ev
from events.subjects import RUN_SUBJECTS
from ports.bus import Received
from services.projector.service import Projector
from services.projector.service import serve as serve_projector
from services.scheduler.service import Scheduler
from services.scheduler.service import serve as serve_scheduler
from tests.integration.conftest import bus_settings, eventually

NS = "team-a"


def now() -> datetime:
    return datetime.now(UTC)


class FakeSteps:
    """Answers StepScheduled like an executor would; `hold` keeps named steps running."""

    def __init__(self, bus: NatsBus, exit_codes: dict[str, int], hold: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.bus, self.exit_codes, self.hold = bus, exit_codes, set(hold)
        self.scheduled: list[str] = []

    async def handle(self, received: Received) -> None:
        e = received.event
        ident = (
            {"namespace": e.namespace, "run": e.run, "uid": e.uid, "at": now()}
            if isinstance(e, ev.RunEvent)
            else {}
        )
        if isinstance(e, ev.StepScheduled):
            self.scheduled.append(e.step)
            await self.bus.publish(ev.StepStarted(step=e.step, job_name=e.job_name, **ident))
            if e.step not in self.hold:
                await self.finish(e, self.exit_codes.get(e.step, 0))
        elif isinstance(e, ev.RunCancelled):
            for step in sorted(self.hold):
                await self.finish(ev.StepScheduled(step=step, job_name="", **ident), 137, "Cancelled")

    async def finish(self, e: ev.StepScheduled, code: int, reason: str = "") -> None:
        ident = {"namespace": e.namespace, "run": e.run, "uid": e.uid, "at": now()}
        await self.bus.publish(
            ev.StepFinished(
                step=e.step, exit_code=code, reason=reason or ("Completed" if code == 0 else "Error"), **ident
            )
        )
        await self.bus.publish(ev.LogShipped(step=e.step, url=f"file:///logs/{e.step}.log", bytes=3, **ident))


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[NatsBus]:
    b = await NatsBus.connect(bus_settings(nats_server))
    await b.ensure_streams()
    yield b
    await b.close()


@pytest.fixture
async def store(bus: NatsBus) -> AsyncIterator[KvStore]:
    s = KvStore.from_connection(bus.connection)
    await s.ensure_buckets()
    yield s


class Plane:
    """Scheduler, projector and fake steps running as tasks until stopped."""

    def __init__(self, bus: NatsBus, store: KvStore, fake: FakeSteps) -> None:
        self.bus, self.store, self.fake = bus, store, fake
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def start_scheduler(self, stop: asyncio.Event) -> asyncio.Task[None]:
        scheduler = Scheduler(self.bus, self.store, LocalExecutor(), timedelta(seconds=5))
        return asyncio.create_task(serve_scheduler(scheduler, stop, 0.05))

    async def __aenter__(self) -> Plane:
        self.tasks = [
            self.start_scheduler(self.stop),
            asyncio.create_task(serve_projector(self.bus, Projector(self.bus, self.store), self.stop)),
            asyncio.create_task(self.bus.consume("fake-steps", [RUN_SUBJECTS], self.fake.handle, self.stop)),
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 10)


def config(*steps: Step) -> PipelineConfig:
    spec = PipelineConfigSpec(repository="https://example.com/org/app", steps=list(steps))
    return PipelineConfig(metadata=ObjectMeta(name="app-ci", namespace=NS), spec=spec)


def step(name: str, *deps: str) -> Step:
    return Step(name=name, image="alpine", commands=["true"], depends_on=list(deps))


def run(name: str = "app-ci-1", config_ref: str = "app-ci") -> PipelineRun:
    spec = PipelineRunSpec(pipeline_config_ref=config_ref, commit="abcdef1", branch="main")
    return PipelineRun(metadata=ObjectMeta(name=name, namespace=NS), spec=spec)


async def final_status(store: KvStore, name: str = "app-ci-1", deadline: float = 15.0) -> PipelineRun:
    async def terminal() -> PipelineRun | None:
        r = await store.get(PipelineRun, NS, name)
        return r if r.status is not None and r.status.phase in ("Succeeded", "Failed", "Cancelled") else None

    return await eventually(terminal, deadline)


async def test_created_run_is_driven_to_success_and_projected(bus: NatsBus, store: KvStore) -> None:
    """A run created in the store runs its DAG in order and ends Succeeded with every step projected."""
    await store.create(config(step("test"), step("lint"), step("build", "test", "lint")))
    fake = FakeSteps(bus, {})
    async with Plane(bus, store, fake):
        await store.create(run())
        done = await final_status(store)
    assert done.status is not None
    assert [(s.name, s.phase, s.exit_code) for s in done.status.steps] == [
        ("test", "Succeeded", 0),
        ("lint", "Succeeded", 0),
        ("build", "Succeeded", 0),
    ]
    assert fake.scheduled[-1] == "build" and sorted(fake.scheduled) == ["build", "lint", "test"]
    assert done.status.steps[2].log_url == "file:///logs/build.log"
    assert [(c.type, c.status) for c in done.status.conditions] == [("Succeeded", "True")]

    async def stats() -> PipelineConfig | None:
        c = await store.get(PipelineConfig, NS, "app-ci")
        return c if c.status is not None and c.status.success_rate == 1.0 else None

    stats_config = await eventually(stats)
    assert stats_config.status is not None and stats_config.status.total_runs == 1


async def test_failed_step_fails_run_and_skips_dependents(bus: NatsBus, store: KvStore) -> None:
    """A failing step fails the run with its exit code, and its dependents are Skipped."""
    await store.create(config(step("test"), step("build", "test")))
    async with Plane(bus, store, FakeSteps(bus, {"test": 2})):
        await store.create(run())
        done = await final_status(store)
    assert done.status is not None and done.status.phase == "Failed"
    assert [(s.name, s.phase, s.reason) for s in done.status.steps] == [
        ("test", "Failed", "Error"),
        ("build", "Skipped", "DependencyFailed"),
    ]


async def test_run_without_config_is_rejected_with_reason(bus: NatsBus, store: KvStore) -> None:
    """A run naming a missing PipelineConfig ends Failed with reason ConfigNotFound and a fix."""
    async with Plane(bus, store, FakeSteps(bus, {})):
        await store.create(run(config_ref="nope"))
        done = await final_status(store)
    assert done.status is not None
    cond = done.status.conditions[0]
    assert (done.status.phase, cond.reason) == ("Failed", "ConfigNotFound")
    assert cond.message is not None and "fix spec.pipelineConfigRef" in cond.message


async def test_cancel_request_ends_run_cancelled(bus: NatsBus, store: KvStore) -> None:
    """spec.cancelRequested on a running run cancels it: Cancelled, the waiting step skipped."""
    await store.create(config(step("slow"), step("after", "slow")))
    fake = FakeSteps(bus, {}, hold={"slow"})
    async with Plane(bus, store, fake):
        await store.create(run())

        async def running() -> bool:
            r = await store.get(PipelineRun, NS, "app-ci-1")
            return r.status is not None and any(s.phase == "Running" for s in r.status.steps)

        await eventually(running)
        await store.request_cancel(NS, "app-ci-1")
        done = await final_status(store)
    assert done.status is not None and done.status.phase == "Cancelled"
    assert [(s.name, s.phase) for s in done.status.steps] == [("slow", "Failed"), ("after", "Skipped")]


async def test_scheduler_restart_mid_run_starts_no_step_twice(bus: NatsBus, store: KvStore) -> None:
    """A scheduler stopped while a step runs and started again finishes the run; each step scheduled once."""
    await store.create(config(step("slow"), step("after", "slow")))
    fake = FakeSteps(bus, {}, hold={"slow"})
    async with Plane(bus, store, fake) as plane:
        await store.create(run())
        await eventually(lambda: asyncio.sleep(0, result="slow" in fake.scheduled))
        await stop_task(plane.tasks[0])  # one cancel() can be absorbed by a KV watch on 3.11
        second = asyncio.Event()
        plane.tasks[0] = plane.start_scheduler(second)
        scheduled = [r async for r in _scheduled(bus)]
        fake.hold.clear()
        await fake.finish(scheduled[0], 0)
        done = await final_status(store)
        second.set()
    assert done.status is not None and done.status.phase == "Succeeded"
    assert fake.scheduled == ["slow", "after"]


async def _scheduled(bus: NatsBus) -> AsyncIterator[ev.StepScheduled]:
    for r in await bus.history(RUN_SUBJECTS):
        if isinstance(r.event, ev.StepScheduled):
            yield r.event
