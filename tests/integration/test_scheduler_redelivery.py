"""The scheduler's cached run state never skips an event, whatever the delivery order.

Root cause of the Kubernetes-mode stall (one run in twenty taking 160-211 s while the others took
1-3 s): an event naked with RetryLater (an apiserver hiccup) comes back after later events of its
run, and the cache dropped every event at or below its position, so a LogShipped overtaken by a
later event was lost and the run waited out the whole log grace (120 s). Covered, on a real
nats-server and the KV store: a LogShipped retried after the step's next event still ends the run
at once (log grace and tick far beyond the deadline); a second scheduler replica that did not
consume some events of a run catches up from the stream on its tick and finishes the run (once
the run is due: its state calls for a decision, or it was last caught up `catch_up_every` ago),
and a tick with no run due reads nothing from the stream.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from msgspec.structs import replace

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.local.executor import LocalExecutor
from api.pipelinerun import PipelineRunStatus
from events import run as ev
from events.subjects import RUN_SUBJECTS, subject_of
from ports.bus import Received, RetryLater
from services.projector.service import Projector
from services.projector.service import serve as serve_projector
from services.scheduler.service import Scheduler
from services.scheduler.service import serve as serve_scheduler
from tests.integration.test_control_loop import (
    NS,
    FakeSteps,
    bus,
    config,
    final_status,
    now,
    run,
    step,
    store,
)

__all__ = ["bus", "store"]
GRACE = timedelta(minutes=10)


class ArtifactAfterLog(FakeSteps):
    """An executor stand-in whose steps also upload an artifact right after their log is shipped."""

    async def finish(self, e: ev.StepScheduled, code: int, reason: str = "") -> None:
        await super().finish(e, code, reason)
        ident = {"namespace": e.namespace, "run": e.run, "uid": e.uid, "at": now()}
        await self.bus.publish(ev.ArtifactUploaded(step=e.step, url="file:///a/x", path="x", **ident))


class LogShippedRetried(Scheduler):
    """The first delivery of every LogShipped fails, as in a brief store outage."""

    async def handle(self, received: Received) -> None:
        if isinstance(received.event, ev.LogShipped) and received.delivered == 1:
            raise RetryLater("store briefly down", delay=1.0)
        await super().handle(received)


async def test_retried_log_shipped_still_ends_the_run_at_once(bus: NatsBus, store: KvStore) -> None:
    """A LogShipped overtaken by the step's next event is folded anyway: no wait for the log grace."""
    await store.create(config(step("test")))
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            serve_scheduler(LogShippedRetried(bus, store, LocalExecutor(), GRACE), stop, 3600)
        ),
        asyncio.create_task(serve_projector(bus, Projector(bus, store), stop)),
        asyncio.create_task(
            bus.consume("fake-steps", [RUN_SUBJECTS], ArtifactAfterLog(bus, {}).handle, stop)
        ),
    ]
    try:
        await store.create(run())
        done = await final_status(store, deadline=20.0)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert done.status is not None and done.status.phase == "Succeeded"


class Clock:
    """A clock the test moves (the scheduler's catch-up interval is measured with it)."""

    def __init__(self) -> None:
        self.at = now()

    def __call__(self) -> datetime:
        return self.at


class CountingReads(NatsBus):
    """The bus, counting next_after requests (a tick's reads of runs' news)."""

    reads = 0

    async def next_after(self, subject: str, after: int) -> Received | None:
        CountingReads.reads += 1
        return await super().next_after(subject, after)


async def test_a_replica_catches_up_on_events_it_did_not_consume(bus: NatsBus, store: KvStore) -> None:
    """Events of a run consumed by another replica reach this replica's cache on its tick, once the
    run is due: it was last caught up `catch_up_every` ago."""
    await store.create(config(step("test")))
    created = await store.create(run())
    ident = {"namespace": NS, "run": created.metadata.name, "uid": created.metadata.uid}
    requested = ev.RunRequested(spec=created.spec, at=now(), **ident)
    seq = await bus.publish(requested)
    clock = Clock()
    replica = Scheduler(bus, store, LocalExecutor(), GRACE, clock, catch_up_every=timedelta(seconds=10))
    await replica.handle(Received(event=requested, seq=seq, subject=subject_of(requested)))
    for e in (  # what another replica consumed and acted on
        ev.StepStarted(step="test", job_name="j", at=now(), **ident),
        ev.StepFinished(step="test", exit_code=0, reason="Completed", at=now(), **ident),
        ev.LogShipped(step="test", url="file:///l", at=now(), **ident),
    ):
        await bus.publish(e)
    await replica.tick()
    assert not await _finished(bus)  # not due yet: the step runs as far as this replica knows
    clock.at += timedelta(seconds=10)
    await replica.tick()
    assert await _finished(bus) == ["Succeeded"]


async def test_a_tick_with_no_run_due_reads_nothing(bus: NatsBus, store: KvStore) -> None:
    """A run whose step runs (nothing to decide) is not read from the stream on each tick."""
    await store.create(config(step("test")))
    created = await store.create(run())
    ident = {"namespace": NS, "run": created.metadata.name, "uid": created.metadata.uid}
    requested = ev.RunRequested(spec=created.spec, at=now(), **ident)
    seq = await bus.publish(requested)
    counting = await CountingReads.connect(bus.connection.settings)
    try:
        clock = Clock()
        replica = Scheduler(counting, store, LocalExecutor(), GRACE, clock)
        await replica.handle(Received(event=requested, seq=seq, subject=subject_of(requested)))
        clock.at += timedelta(seconds=10)
        await replica.tick()  # due: reads back what it published itself (RunAccepted, StepScheduled)
        before = CountingReads.reads
        assert before == 3
        for _ in range(9):
            clock.at += timedelta(seconds=1)
            await replica.tick()
        assert CountingReads.reads == before
        clock.at += timedelta(seconds=1)
        await replica.tick()
        assert CountingReads.reads == before + 1  # due again: one read, nothing new
    finally:
        await counting.close()


async def _finished(bus: NatsBus) -> list[str]:
    history = await bus.history(RUN_SUBJECTS)
    return [r.event.phase for r in history if isinstance(r.event, ev.RunFinished)]


class HeldReads(NatsBus):
    """The bus, holding every next_after request until `release` is set."""

    release = asyncio.Event()
    waiting = asyncio.Event()

    async def next_after(self, subject: str, after: int) -> Received | None:
        HeldReads.waiting.set()
        await HeldReads.release.wait()
        return await super().next_after(subject, after)


async def test_the_run_seen_ended_while_an_event_of_it_is_handled(bus: NatsBus, store: KvStore) -> None:
    """The watch reporting the run terminal (another replica finished it) while this replica's
    handler is half-way through one of its events: the handler ends without error (it crashed the
    scheduler with a KeyError when the watch dropped the cached run under it)."""
    await store.create(config(step("test")))
    created = await store.create(run())
    ident = {"namespace": NS, "run": created.metadata.name, "uid": created.metadata.uid}
    requested = ev.RunRequested(spec=created.spec, at=now(), **ident)
    seq = await bus.publish(requested)
    HeldReads.release, HeldReads.waiting = asyncio.Event(), asyncio.Event()
    held = await HeldReads.connect(bus.connection.settings)
    try:
        replica = Scheduler(held, store, LocalExecutor(), GRACE)
        HeldReads.release.set()
        await replica.handle(Received(event=requested, seq=seq, subject=subject_of(requested)))
        HeldReads.release.clear()
        HeldReads.waiting.clear()
        started = ev.StepStarted(step="test", job_name="j", at=now(), **ident)
        later = Received(event=started, seq=await bus.publish(started), subject=subject_of(started))
        handling = asyncio.create_task(replica.handle(later))
        await asyncio.wait_for(HeldReads.waiting.wait(), 10)  # in the handler's fold, reading
        finished = replace(created, status=PipelineRunStatus(phase="Succeeded"))
        watching = asyncio.create_task(replica.on_run(finished))
        await asyncio.sleep(0)  # one turn of the loop: on_run runs up to the run's lock (no await before it)
        HeldReads.release.set()
        await asyncio.wait_for(asyncio.gather(handling, watching), 10)
        assert (NS, created.metadata.name) not in replica.runs
    finally:
        await held.close()
