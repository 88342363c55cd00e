"""The scheduler process: the I/O shell around the pure decider.

Three loops share one cache of run states:
- the durable consumer `scheduler` folds every run event into the run's state and decides;
- the PipelineRun watch turns new runs into RunRequested and `spec.cancelRequested` into
  RunCancelRequested (Nats-Msg-Id dedupes repeats), and loads open runs after a restart;
- a ticker re-decides open runs, which is how the pipeline timeout and the log grace fire, and
  how steps waiting for ResourceQuota capacity start once it is freed. A tick reads a run's news
  from the stream (one request) only when its cached state calls for something now, or when the
  run was last caught up `catch_up_every` ago (default 10 s): reading every open run each second
  cost one request per open run per second (1,000 waiting runs: 11-17 % of a CPU here and 17-24 %
  in nats-server, bench/README.md). What can wait: events another replica consumed are acted on by
  that replica, and every event delivered here is folded with what lies before it; the cache only
  has to be fresh when a decision of time (a timeout, the log grace, quota) is about to be made on
  it, and the periodic catch-up bounds how late a replica whose cache missed a run's acceptance
  (the replica that had it died) fires that run's timeout.
The namespace's quotas are read at most once per `quota_ttl` and charged with every step this
scheduler has in flight there (the quota system counts a step only once its pod exists).
A run's state is rebuilt from its history whenever the cache has not seen it (restart, another
replica), so the process can be killed at any moment. A cached state never skips an event: one
delivered above the cache's position is folded with every stored event of the run in between
(ports.bus.unfolded), and the ticker catches each open run up the same way before deciding, so
events another replica consumed, or a retried event that came back after later ones, are never
missed. A Job the Kubernetes API refuses to create (NotOnboarded: the namespace does not lend the
scheduler ClusterRole c8s-team-step-runner) rejects the run with the reason NotOnboarded and the
command that fixes it, instead of crashing the consumer on every redelivery; a refused cancel is
logged (the steps then end by their timeouts). Work on one run is serialised by a lock in this
process; every effect is idempotent (deterministic Job names, Nats-Msg-Id) and every decision is
made again on the next event, so a decision repeated after a crash or by a second replica changes
nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from msgspec import Struct

from adapters.runtime.retrying import retry_outages
from adapters.runtime.tasks import stop_task
from api.pipelinerun import TERMINAL_RUN_PHASES, PipelineRun
from api.quotas import charged
from events.run import (
    RunCancelRequested,
    RunEvent,
    RunEvents,
    RunIdentity,
    RunRejected,
    RunRequested,
    StepScheduled,
)
from events.subjects import RUN_SUBJECTS, run_subject
from ports.bus import Bus, Received, StopSignal, run_history, unfolded
from ports.execution import Executor
from ports.quotas import Quota, Quotas
from ports.resources import Forbidden, NotOnboarded, ResourceStore
from projections import run_progress as progress
from projections.run_progress import RunProgress
from services.scheduler.accepting import accept, read_inputs
from services.scheduler.deciding import CancelStep, Decision, Publish, StartStep, decide, in_flight

Clock = Callable[[], datetime]
log = structlog.get_logger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Cached(Struct, kw_only=True):
    uid: str
    seq: int
    state: RunProgress
    checked: datetime  # when the run was last read from the stream up to its end


class Scheduler:
    def __init__(
        self,
        bus: Bus,
        store: ResourceStore,
        executor: Executor,
        log_grace: timedelta,
        clock: Clock = utcnow,
        *,
        quotas: Quotas | None = None,
        quota_ttl: timedelta = timedelta(seconds=1),
        catch_up_every: timedelta = timedelta(seconds=10),
    ) -> None:
        self.bus, self.store, self.executor = bus, store, executor
        self.catch_up_every = catch_up_every
        self.log_grace, self.clock = log_grace, clock
        self.quotas, self.quota_ttl = quotas, quota_ttl
        self._quota_cache: dict[str, tuple[datetime, list[Quota]]] = {}
        self.runs: dict[tuple[str, str], Cached] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def handle(self, received: Received) -> None:
        """Consumer handler: fold the event into its run, then act."""
        event = received.event
        if not isinstance(event, RunEvent):
            return
        key = (event.namespace, event.run)
        async with self._lock(key):
            await self._fold(key, received)
            await self._act(key)

    async def on_run(self, run: PipelineRun) -> None:
        """Watch handler: request new runs, forward cancel requests, adopt open runs."""
        meta = run.metadata
        key = (meta.namespace, meta.name)
        ended = run.status is not None and run.status.phase in TERMINAL_RUN_PHASES
        if ended and key not in self.runs and key not in self._locks:
            return  # nothing of it here (every finished run at a re-list)
        async with self._lock(key):  # a handler of the run's events may be half-way through it
            if ended:
                self.runs.pop(key, None)
                self._locks.pop(key, None)
                return
            cached = await self._load(key, meta.uid)
            ident = RunIdentity(namespace=meta.namespace, run=meta.name, uid=meta.uid, at=self.clock())
            if cached.state.ctx.spec is None:
                await self._publish(key, RunRequested(spec=run.spec, **ident))
            if run.spec.cancel_requested and cached.state.cancel_requested is None and not cached.state.done:
                await self._publish(key, RunCancelRequested(by="spec.cancelRequested", **ident))

    async def tick(self) -> None:
        for key in list(self.runs):
            async with self._lock(key):
                if key in self.runs and await self._due(key):
                    await self._catch_up(key)
                    await self._act(key)

    async def _due(self, key: tuple[str, str]) -> bool:
        """Whether this tick must read the run's news and act (module docstring): its cached
        state calls for acceptance or a decision now, or it was caught up `catch_up_every` ago."""
        cached = self.runs[key]
        state, now = cached.state, self.clock()
        if now - cached.checked >= self.catch_up_every or (state.ctx.spec is not None and not state.accepted):
            return not state.done
        if state.done or not state.accepted:
            return False
        return bool(decide(state, now, self.log_grace, await self._free(key[0])))

    async def _fold(self, key: tuple[str, str], received: Received) -> None:
        event = received.event
        assert isinstance(event, RunEvent)
        cached = self.runs.get(key)
        if cached is None or cached.uid != event.uid:
            await self._load(key, event.uid)
        elif received.seq > cached.seq:
            self._evolve(cached, await unfolded(self.bus, run_subject(*key), cached.seq, received))

    async def _catch_up(self, key: tuple[str, str]) -> None:
        """Fold what was stored for the run since the cache's position (another replica's share)."""
        cached = self.runs[key]
        checked = self.clock()
        while (stored := await self.bus.next_after(run_subject(*key), cached.seq)) is not None:
            self._evolve(cached, [stored])
        cached.checked = checked

    @staticmethod
    def _evolve(cached: Cached, news: list[Received]) -> None:
        for r in news:
            if isinstance(r.event, RunEvent) and r.event.uid == cached.uid:
                cached.state = progress.evolve(cached.state, r.event)
            cached.seq = max(cached.seq, r.seq)

    async def _load(self, key: tuple[str, str], uid: str) -> Cached:
        cached = self.runs.get(key)
        if cached is not None and cached.uid == uid:
            return cached
        state, seq, checked = RunProgress(), 0, self.clock()
        for r in await run_history(self.bus, *key, uid):
            if isinstance(r.event, RunEvent):
                state, seq = progress.evolve(state, r.event), r.seq
        self.runs[key] = cached = Cached(uid=uid, seq=seq, state=state, checked=checked)
        return cached

    async def _act(self, key: tuple[str, str]) -> None:
        cached = self.runs.get(key)
        if cached is None:
            return  # forgotten meanwhile: the run ended
        state = cached.state
        if state.ctx.spec is not None and not state.accepted and not state.done:
            quotas = await self._quotas_of(key[0])
            inputs = await read_inputs(self.store, state.ctx)
            await self._publish(key, accept(state.ctx, inputs, quotas, self.clock()))
        if cached.state.accepted and not cached.state.done:
            quotas = await self._free(key[0])
            for decision in decide(cached.state, self.clock(), self.log_grace, quotas):
                await self._perform(key, decision)
                if cached.state.done:
                    break  # rejected: the namespace refused a Job
        self._forget_if_done(key)

    def _forget_if_done(self, key: tuple[str, str]) -> None:
        cached = self.runs.get(key)
        if cached is not None and cached.state.done:
            self.runs.pop(key, None)
            self._locks.pop(key, None)

    async def _free(self, namespace: str) -> list[Quota]:
        """The namespace's quotas charged with this scheduler's steps in flight there."""
        quotas = await self._quotas_of(namespace)
        if not quotas:
            return quotas
        mine = [c.state for (ns, _), c in self.runs.items() if ns == namespace]
        return charged(quotas, in_flight(mine))

    async def _quotas_of(self, namespace: str) -> list[Quota]:
        if self.quotas is None:
            return []
        now = self.clock()
        hit = self._quota_cache.get(namespace)
        if hit is None or now - hit[0] >= self.quota_ttl:
            hit = self._quota_cache[namespace] = (now, await self.quotas.of_namespace(namespace))
        return hit[1]

    async def _perform(self, key: tuple[str, str], decision: Decision) -> None:
        match decision:
            case StartStep(plan=plan):
                ref = plan.ref
                try:
                    job = await self.executor.start(plan)
                except NotOnboarded as e:
                    ident = RunIdentity(namespace=ref.namespace, run=ref.run, uid=ref.uid, at=self.clock())
                    await self._publish(key, RunRejected(reason="NotOnboarded", message=str(e), **ident))
                    return
                scheduled = StepScheduled(
                    namespace=ref.namespace,
                    run=ref.run,
                    uid=ref.uid,
                    step=ref.step,
                    job_name=job,
                    at=self.clock(),
                )
                await self._publish(key, scheduled)
            case CancelStep(ref=ref):
                try:
                    await self.executor.cancel(ref)
                except Forbidden as e:
                    log.warning(
                        "scheduler.cancel_refused",
                        namespace=ref.namespace,
                        run=ref.run,
                        step=ref.step,
                        error=str(e),
                    )
            case Publish(event=event):
                await self._publish(key, event)

    async def _publish(self, key: tuple[str, str], event: RunEvents) -> None:
        """Publish, and fold at once so the next decision already knows (the fold is idempotent)."""
        await self.bus.publish(event)
        cached = self.runs.get(key)
        if cached is not None and cached.uid == event.uid:
            cached.state = progress.evolve(cached.state, event)

    def _lock(self, key: tuple[str, str]) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())


async def serve(scheduler: Scheduler, stop: StopSignal, tick_seconds: float) -> None:
    """Run the consumer, the watch and the ticker until `stop` is set."""
    async with asyncio.TaskGroup() as tasks:
        consumer = tasks.create_task(
            scheduler.bus.consume("scheduler", [RUN_SUBJECTS], retry_outages(scheduler.handle), stop)
        )
        watcher = tasks.create_task(_watch(scheduler))
        ticker = tasks.create_task(_tick(scheduler, tick_seconds))
        await stop.wait()
        await stop_task(watcher)
        await stop_task(ticker)
        await consumer


async def _watch(scheduler: Scheduler) -> None:
    async for change in scheduler.store.watch(PipelineRun):
        if change.type != "DELETED" and isinstance(change.object, PipelineRun):
            await scheduler.on_run(change.object)


async def _tick(scheduler: Scheduler, seconds: float) -> None:
    """Tick until cancelled. Each tick makes requests (catching runs up), and on Python 3.11 a
    request's asyncio.wait_for can swallow the cancel; the task still counts it (cancelling())."""
    task = asyncio.current_task()
    while task is None or not task.cancelling():
        await asyncio.sleep(seconds)
        await scheduler.tick()
