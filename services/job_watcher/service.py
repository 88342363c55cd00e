"""The job-watcher process: the I/O shell around the pure observation of each step's Job.

Every state the StepWorkloads port yields (after each change to a Job or its pods, and every Job
again after a re-list) is observed (services.job_watcher.observing) and the facts not yet in the
run's history are published; a ticker observes every known Job again so the start deadline of a
stuck pod fires without any change. A Job whose pod can never start is stopped once its
StepFinished is stored.

Exactly once, at any restart: the first time the process sees a run it reads the run's history
and remembers the message ids (events.subjects.message_id) of the step facts already stored, so a
re-list or a restart publishes nothing twice, even past the stream's dedupe window; within the
window, Nats-Msg-Id dedupes a publish that raced with a crash as well. Nothing else is kept: the
process can be killed at any moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from adapters.runtime.tasks import stop_tasks
from events.run import StepEvent, StepFinished
from events.subjects import message_id
from ports.bus import Bus, StopSignal, run_history
from ports.step_workloads import JobState, StepWorkloads
from services.job_watcher.observing import observe

log = structlog.get_logger(__name__)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobWatcher:
    def __init__(
        self, bus: Bus, workloads: StepWorkloads, start_deadline: timedelta, clock: Clock = utcnow
    ) -> None:
        self.bus, self.workloads = bus, workloads
        self.start_deadline, self.clock = start_deadline, clock
        self.jobs: dict[tuple[str, str], JobState] = {}
        self.published: dict[str, set[str]] = {}
        self._lock = asyncio.Lock()

    async def on_state(self, state: JobState) -> None:
        async with self._lock:
            key = (state.namespace, state.name)
            if state.gone:
                self.jobs.pop(key, None)
            else:
                self.jobs[key] = state
            await self._observe(state)
            if state.gone and not any(j.run_uid == state.run_uid for j in self.jobs.values()):
                self.published.pop(state.run_uid, None)

    async def tick(self) -> None:
        async with self._lock:
            for state in list(self.jobs.values()):
                await self._observe(state)

    async def _observe(self, state: JobState) -> None:
        observed = observe(state, self.clock(), self.start_deadline)
        known = await self._known(state)
        with structlog.contextvars.bound_contextvars(run=state.run, step=state.step):
            for event in observed.events:
                mid = message_id(event)
                if mid not in known:
                    seq = await self.bus.publish(event)
                    known.add(mid)
                    log.info("job_watcher.published", type=event.type, job=state.name, seq=seq)
        if observed.stop and any(isinstance(e, StepFinished) for e in observed.events):
            await self.workloads.stop(state.namespace, state.name)

    async def _known(self, state: JobState) -> set[str]:
        """Message ids of the run's step facts already stored (read from the history once)."""
        if state.run_uid not in self.published:
            history = await run_history(self.bus, state.namespace, state.run, state.run_uid)
            self.published[state.run_uid] = {
                message_id(r.event) for r in history if isinstance(r.event, StepEvent)
            }
        return self.published[state.run_uid]


async def serve(watcher: JobWatcher, stop: StopSignal, tick_seconds: float) -> None:
    """Follow the workloads and tick until `stop` is set."""
    tasks = [asyncio.create_task(_follow(watcher)), asyncio.create_task(_tick(watcher, tick_seconds))]
    stopped = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopped], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopped:
                task.result()  # a loop that ended on its own failed: crash, to be restarted
    finally:
        # one cancel is not always enough: a request's wait_for on Python 3.11 can swallow it
        await stop_tasks([*tasks, stopped])


async def _follow(watcher: JobWatcher) -> None:
    async for state in watcher.workloads.watch():
        await watcher.on_state(state)


async def _tick(watcher: JobWatcher, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        await watcher.tick()
