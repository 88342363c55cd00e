"""The runner process: the durable consumer `runner` of run events, and the steps it runs.

- StepScheduled: the run's context is folded from its history (the config it was accepted with);
  the step is claimed (services.runner.claims) before anything starts, then run in the background,
  bounded by max_parallel_steps: a StepScheduled beyond it waits for a slot (services.runner.slots,
  woken when a step ends), handed back for redelivery when none frees in time, and at once, before
  its run's history is read, when every slot is used and the waiting queue is full (a burst of
  1,000 runs hands ~930 steps back every busy_retry_seconds; reading each one's history first
  cost the runner a quarter of a CPU and nats-server half of one, bench/README.md). The message is
  acked once the claim is on disk: from then on the claim, not the message, carries the step, so a
  long step never waits on ack_wait and no in-progress heartbeat is needed.
- A StepScheduled for a step already claimed (redelivery, another replica) re-attaches to it.
- RunCancelled / RunTimedOut: every claimed step of the run without an outcome gets a stop request,
  which its shim turns into killing the process group (reason Cancelled / Timeout).
- Messages are handled concurrently (slot waiters must not hold up a cancel), so a stop is also
  remembered by run uid: a step claimed after its run's stop was handled (its history read before
  the stop) gets the stop request at once. The claim and that check run without an await in
  between, and on_stopped has none, so one of the two always sees the other.
- Start-up: every claim under the home not yet reported is re-attached (a step still running under
  its shim is awaited, a finished one reported; one whose process never started, its owner dead,
  is prepared and started again; one whose process started and whose shim died is RunnerLost:
  services.runner.recovery says why).
- Checkouts ahead: new PipelineRuns seen in the store start the checkout their steps will want
  (services.runner.lookahead, services.runner.prefetch), so a step scheduled later mostly finds
  it made; the run's end (RunFinished, RunRejected, RunCancelled, RunTimedOut) removes what is
  left of them.
Steps' processes belong to their shims: stopping or killing the runner leaves them running.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections import OrderedDict
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from adapters.runtime.tasks import stop_task, stop_tasks
from events.run import (
    RunCancelled,
    RunEvent,
    RunFinished,
    RunRejected,
    RunTimedOut,
    StepFinished,
    StepScheduled,
)
from events.subjects import run_events_subjects
from ports.bus import Bus, Received, RetryLater, run_events, run_history
from ports.objects import ObjectStore
from ports.resources import ResourceStore, StoreUnavailable
from projections.run_context import RunContext
from projections.run_progress import fold_run
from services.runner import credentials
from services.runner.claims import claims_under, new_claim, read_claim, run_claims, try_claim
from services.runner.config import RunnerSettings
from services.runner.lookahead import Lookahead
from services.runner.prefetch import Prefetcher
from services.runner.slots import Slots
from services.runner.spares import Launcher
from services.runner.step_files import Outcome, StepFiles, StopRequest, read_outcome, request_stop
from services.runner.stepping import Prepared, StepDeps, resume, run_claimed
from steps.plans import StepPlan, StepRef, plan, ref_of
from steps.runner_files import run_dir

log = structlog.get_logger(__name__)
DURABLE = "runner"
#: What handle() acts on: nothing else is delivered to the runner's durable (nor acked by it).
HANDLED = run_events_subjects(StepScheduled, RunCancelled, RunTimedOut, RunFinished, RunRejected)
#: Handlers kept free of slot waiters (for cancels, re-attaches and steps being prepared).
FREE_HANDLERS = 8
#: Runs whose stop this runner handled, remembered for steps being claimed at that moment.
REMEMBERED_STOPS = 4096


class Runner:
    def __init__(self, deps: StepDeps, store: ResourceStore, settings: RunnerSettings) -> None:
        self.deps, self.store, self.settings = deps, store, settings
        self.steps: dict[StepRef, asyncio.Task[None]] = {}
        self.slots = Slots(settings.max_parallel_steps, settings.max_waiting_steps)
        self._taking: set[StepRef] = set()
        self.stopped: OrderedDict[str, StopRequest] = OrderedDict()
        self._halt = asyncio.Event()
        self._crash: BaseException | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Re-attach to earlier claims, then consume until `stop` (or a step task crashes)."""
        relay = asyncio.create_task(_relay(stop, self._halt))
        self.deps.launcher.prepare()
        self.deps.prefetcher.open()
        lookahead = asyncio.create_task(Lookahead(self.store, self.deps.prefetcher).run())
        try:
            self.reattach_all()
            handlers = self.settings.max_waiting_steps + FREE_HANDLERS
            await self.deps.bus.consume(DURABLE, HANDLED, self.handle, self._halt, handlers)
        finally:
            relay.cancel()
            await stop_task(lookahead)
            await self.shutdown(stop_steps=stop.is_set() and self._crash is None)
        if self._crash is not None:
            raise self._crash

    async def handle(self, received: Received) -> None:
        event = received.event
        if isinstance(event, StepScheduled):
            with structlog.contextvars.bound_contextvars(run=event.run, step=event.step, seq=received.seq):
                await self.on_scheduled(event)
        elif isinstance(event, RunCancelled | RunTimedOut):
            self.on_stopped(event)
            self.deps.prefetcher.discard(event.uid)
        elif isinstance(event, RunFinished | RunRejected):
            self.deps.prefetcher.discard(event.uid)

    async def on_scheduled(self, event: StepScheduled) -> None:
        if self._refuses(scheduled_ref(event)):
            raise RetryLater("every step slot is busy", delay=self.settings.busy_retry_seconds)
        history = await self._history(event)
        if any(isinstance(e, StepFinished) and e.step == event.step for e in history):
            return
        step_plan = _plan(history, event.step)
        if step_plan is None or step_plan.ref in self.steps or step_plan.ref in self._taking:
            return
        self._taking.add(step_plan.ref)
        try:
            await self._take_on(step_plan, history)
        finally:
            self._taking.discard(step_plan.ref)

    async def _take_on(self, step_plan: StepPlan, history: list[RunEvent]) -> None:
        """Claim and start a step in a free slot (waiting for one), or re-attach to its claim."""
        files = StepFiles.of(self.deps.home, step_plan.ref)
        if files.claim.exists():
            self._spawn(step_plan.ref, self._resume(step_plan))
            return
        if not await self.slots.acquire(self.settings.slot_wait_seconds):
            raise RetryLater("every step slot is busy", delay=self.settings.busy_retry_seconds)
        try:
            prepared = await self._prepare(step_plan)
            lock_fd = try_claim(files, new_claim(step_plan, datetime.now(UTC)))
        except BaseException:
            self.slots.release()
            raise
        if lock_fd is None:
            self.slots.release()
            self._spawn(step_plan.ref, self._resume(step_plan))
            return
        log.info("step.claimed")
        if (stopped := stop_request(history) or self.stopped.get(step_plan.ref.uid)) is not None:
            request_stop(files, stopped)
        self._spawn(step_plan.ref, run_claimed(self.deps, prepared, lock_fd), slot_held=True)

    def _refuses(self, ref: StepRef) -> bool:
        """A step this runner would hand back anyway: neither running, being taken nor claimed
        here (those re-attach, whatever the slots), and no slot or queue place free."""
        if ref in self.steps or ref in self._taking or not self.slots.refuses():
            return False
        return not StepFiles.of(self.deps.home, ref).claim.exists()

    def on_stopped(self, event: RunCancelled | RunTimedOut) -> None:
        request = stop_request([event])
        assert request is not None
        self.stopped[event.uid] = request  # for a step of the run being claimed right now
        while len(self.stopped) > REMEMBERED_STOPS:
            self.stopped.popitem(last=False)
        for path in run_claims(run_dir(self.deps.home, event.namespace, event.run, event.uid)):
            files = StepFiles.of(self.deps.home, read_claim(path).plan.ref)
            if read_outcome(files) is None and request_stop(files, request):
                log.info("step.stop_requested", run=event.run, step=files.ref.step, reason=request.reason)

    def reattach_all(self) -> None:
        for path in claims_under(self.deps.home):
            claimed = read_claim(path).plan
            if (
                claimed.ref not in self.steps
                and not StepFiles.of(self.deps.home, claimed.ref).reported.exists()
            ):
                log.info("step.reattach", run=claimed.ref.run, step=claimed.ref.step)
                self._spawn(claimed.ref, self._resume(claimed))

    async def shutdown(self, stop_steps: bool = False) -> None:
        """Stop waiting for steps (their shims go on) and finish every task. With `stop_steps`
        (a requested stop and stop_steps_on_exit), running steps are stopped and reported first."""
        if stop_steps and self.settings.stop_steps_on_exit and self.steps:
            request = StopRequest(reason="Cancelled", message="the runner was stopped")
            for ref in self.steps:
                request_stop(StepFiles.of(self.deps.home, ref), request)
            await asyncio.wait(self.steps.values(), timeout=self.settings.kill_grace_seconds + 2)
        await stop_tasks(self.steps.values())
        await self.deps.launcher.close()
        await self.deps.prefetcher.close()

    async def _resume(self, step_plan: StepPlan) -> None:
        """Re-attach to a claimed step; start it again if its process never started."""
        lock_fd = await resume(self.deps, step_plan)
        if lock_fd is None:
            return
        try:
            log.info("step.restarted", run=step_plan.ref.run, step=step_plan.ref.step)
            prepared = await self._prepare_patiently(step_plan)
        except BaseException:
            os.close(lock_fd)
            raise
        await run_claimed(self.deps, prepared, lock_fd)

    async def _prepare_patiently(self, step_plan: StepPlan) -> Prepared:
        """_prepare, waiting out store outages (no message to redeliver: the claim carries the step)."""
        while True:
            try:
                return await self._prepare(step_plan)
            except RetryLater as e:
                log.warning("step.prepare_retry", error=str(e), retry_in=e.delay)
                await asyncio.sleep(e.delay)

    async def _history(self, event: StepScheduled) -> list[RunEvent]:
        return run_events(await run_history(self.deps.bus, event.namespace, event.run, event.uid))

    async def _prepare(self, step_plan: StepPlan) -> Prepared:
        """Read the step's secret values; a missing Secret fails the step, an outage retries."""
        ns = step_plan.ref.namespace
        try:
            secrets = await credentials.step_secrets(self.store, ns, step_plan.secrets)
            auth = await credentials.git_auth(self.store, ns, step_plan.auth_secret_ref)
        except credentials.MissingSecret as e:
            problem = Outcome(exit_code=None, reason="SecretNotFound", message=str(e))
            return Prepared(plan=step_plan, secrets={}, auth=None, problem=problem)
        except StoreUnavailable as e:
            raise RetryLater(f"resource store unavailable: {e}", delay=2.0) from e
        return Prepared(plan=step_plan, secrets=secrets, auth=auth)

    def _spawn(self, ref: StepRef, work: Coroutine[Any, Any, None], slot_held: bool = False) -> None:
        if not slot_held:
            self.slots.take()
        task = asyncio.create_task(work, name=f"step {ref.namespace}/{ref.run}/{ref.step}")
        self.steps[ref] = task
        task.add_done_callback(functools.partial(self._done, ref))

    def _done(self, ref: StepRef, task: asyncio.Task[None]) -> None:
        self.steps.pop(ref, None)
        self.slots.release()
        if task.cancelled() or task.exception() is None:
            return
        log.error("step.task_crashed", run=ref.run, step=ref.step, error=repr(task.exception()))
        self._crash = self._crash or task.exception()
        self._halt.set()


def scheduled_ref(event: StepScheduled) -> StepRef:
    """The StepRef the step's plan will have (steps.plans.step_ref), from the event alone."""
    return ref_of(event.namespace, event.run, event.uid, event.step)


def _plan(history: list[RunEvent], step: str) -> StepPlan | None:
    ctx = fold_run(history, history[0].uid).ctx if history else RunContext()
    try:
        return plan(ctx, step)
    except (KeyError, ValueError) as e:
        log.error("step.unplannable", step=step, error=str(e))
        return None


def stop_request(events: list[RunEvent]) -> StopRequest | None:
    """Why the run's steps must stop, if any of these events stopped the run."""
    for event in events:
        if isinstance(event, RunCancelled):
            return StopRequest(reason="Cancelled", message=event.message or "the run was cancelled")
        if isinstance(event, RunTimedOut):
            return StopRequest(reason="Timeout", message=f"the pipeline timeout of {event.timeout} passed")
    return None


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


def step_deps(settings: RunnerSettings, bus: Bus, objects: ObjectStore) -> StepDeps:
    home = Path(settings.home).resolve()
    base_env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "SSH_AUTH_SOCK")}
    return StepDeps(
        bus=bus,
        objects=objects,
        home=home,
        grace_seconds=settings.kill_grace_seconds,
        poll_seconds=settings.poll_seconds,
        checkout_timeout_seconds=settings.checkout_timeout_seconds,
        base_env=base_env,
        launcher=Launcher(),
        prefetcher=Prefetcher(
            home=home,
            limit=settings.prefetch_runs,
            ttl=settings.prefetch_seconds,
            base_env=base_env,
            time_limit=settings.checkout_timeout_seconds,
        ),
    )


async def serve(runner: Runner, stop: asyncio.Event) -> None:
    """Run steps as they are scheduled until `stop` is set (their shims outlive a crash)."""
    await runner.run(stop)
