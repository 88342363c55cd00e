"""The Bus port's concurrency and long-handler clauses (ports/bus.py), against every adapter, plus the
NATS adapter's in-progress heartbeat with a short ack wait.

Covers: consume(concurrency=N) runs N handlers at once and never more; each message is acked when
its own handler returns; stop cancels running handlers and their messages come back; a handler's
unexpected exception stops the consumer and its message comes back; a handler running for several
ack waits is not redelivered (heartbeat).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.server import NatsServer
from events.run import StepStarted
from events.subjects import namespace_runs_subject
from ports.bus import Received
from tests.integration.conftest import BusHarness, bus_settings, eventually

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NS = "team-a"
ALL_RUNS = namespace_runs_subject(NS)
DEADLINE = 10.0


def started(i: int) -> StepStarted:
    return StepStarted(at=T0 + timedelta(seconds=i), namespace=NS, run="r1", uid="uid-r1", step=f"s{i}")


class Gate:
    """A handler that blocks every message until released; tracks how many run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.done: list[int] = []
        self.seen: list[Received] = []
        self.open = asyncio.Event()

    async def __call__(self, r: Received) -> None:
        self.seen.append(r)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await self.open.wait()
        finally:
            self.running -= 1
        self.done.append(r.seq)


async def test_handlers_run_concurrently_up_to_the_bound(harness: BusHarness) -> None:
    """With concurrency 3 and 7 blocked messages, exactly 3 handlers run at once; all are acked."""
    await harness.bus.publish_many([started(i) for i in range(7)])
    gate, stop = Gate(), asyncio.Event()
    consuming = asyncio.create_task(harness.bus.consume("pool", [ALL_RUNS], gate, stop, concurrency=3))
    await eventually(lambda: _true(gate.running == 3))
    await asyncio.sleep(0.2)  # would more start? (not waiting for state: checking nothing else happens)
    assert gate.peak == 3
    gate.open.set()
    await eventually(lambda: _true(len(gate.done) == 7))
    await eventually(lambda: _ack_floor(harness, "pool", 7))
    stop.set()
    await asyncio.wait_for(consuming, DEADLINE)
    assert gate.peak == 3


async def test_stop_cancels_running_handlers_and_they_come_back(harness: BusHarness) -> None:
    """Stopping while handlers run cancels them; the next consumer gets those messages again."""
    await harness.bus.publish_many([started(i) for i in range(2)])
    gate, stop = Gate(), asyncio.Event()
    consuming = asyncio.create_task(harness.bus.consume("pool", [ALL_RUNS], gate, stop, concurrency=2))
    await eventually(lambda: _true(gate.running == 2))
    stop.set()
    await asyncio.wait_for(consuming, DEADLINE)
    assert gate.done == []
    again, stop2 = Gate(), asyncio.Event()
    again.open.set()
    consuming = asyncio.create_task(harness.bus.consume("pool", [ALL_RUNS], again, stop2, concurrency=2))
    await eventually(lambda: _true(sorted(again.done) == [1, 2]))
    stop2.set()
    await asyncio.wait_for(consuming, DEADLINE)
    assert all(r.delivered == 2 for r in again.seen)


async def test_handler_exception_stops_the_pool_and_message_returns(harness: BusHarness) -> None:
    """An unexpected exception in one concurrent handler propagates from consume; its message is not acked."""
    await harness.bus.publish(started(0))

    async def boom(r: Received) -> None:
        raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError, match="handler bug"):
        await asyncio.wait_for(
            harness.bus.consume("pool", [ALL_RUNS], boom, asyncio.Event(), concurrency=4), DEADLINE
        )
    state = await harness.ack_state("pool")
    assert state.ack_floor == 0


async def test_long_handler_is_kept_in_progress(nats_server: NatsServer) -> None:
    """A handler running three ack waits long is not redelivered meanwhile (NATS heartbeat)."""
    settings = bus_settings(nats_server)
    bus = await NatsBus.connect(msgspec.structs.replace(settings, ack_wait=0.6))
    await bus.ensure_streams()
    await bus.publish(started(0))
    calls: list[int] = []
    stop = asyncio.Event()

    async def slow(r: Received) -> None:
        calls.append(r.delivered)
        await asyncio.sleep(2.0)  # the behaviour under test is time itself: outlive ack_wait
        stop.set()

    try:
        await asyncio.wait_for(bus.consume("slow", [ALL_RUNS], slow, stop, concurrency=2), DEADLINE)
    finally:
        await bus.close()
    assert calls == [1]


async def _true(value: bool) -> bool:
    return value


async def _ack_floor(harness: BusHarness, durable: str, seq: int) -> bool:
    return (await harness.ack_state(durable)).ack_floor >= seq
