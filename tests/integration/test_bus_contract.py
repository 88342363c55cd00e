"""The Bus port's contract (ports/bus.py), run against every adapter (the `harness` fixture).

Covers: publish returns the stream sequence; the same message id is stored once with the same
sequence; publish_many keeps input order; a durable consumer acks and resumes after a restart
without redelivering acked messages; RetryLater is redelivered after its delay (delivered == 2);
an undecodable body is terminated, never reaches the handler and stays in the stream; a handler's
exception propagates and its message comes back; history replays a subject in order, across
many read batches, and ends at what was stored when it was called even while publishing goes on;
a consumer
keeps working, exactly once, across a restart of the server on the same store; a durable given
only some event types gets only those, and an existing durable whose subjects change keeps its
place (the next delivery is the next matching event after what it acked).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from events.codec import AnyEvent
from events.run import RunFinished, StepStarted
from events.subjects import namespace_runs_subject, run_events_subjects, run_subject, subject_of
from ports.bus import Bus, Received, RetryLater
from ports.bus_errors import BusUnavailable
from tests.integration.conftest import AckState, BusHarness, eventually

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NS = "team-a"
ALL_RUNS = namespace_runs_subject(NS)


def started(i: int, run: str = "r1") -> StepStarted:
    return StepStarted(at=T0 + timedelta(seconds=i), namespace=NS, run=run, uid=f"uid-{run}", step=f"s{i}")


class Collector:
    """A handler that records what it gets; sets `stop` once it has `until` events or `last_seq`."""

    def __init__(self, until: int = 0, last_seq: int = 0) -> None:
        self.until, self.last_seq = until, last_seq
        self.got: list[Received] = []
        self.stop = asyncio.Event()

    async def __call__(self, r: Received) -> None:
        self.got.append(r)
        if (self.until and len(self.got) >= self.until) or r.seq == self.last_seq:
            self.stop.set()

    @property
    def seqs(self) -> list[int]:
        return [r.seq for r in self.got]


async def consume(bus: Bus, durable: str, handler: Collector, deadline: float = 10.0) -> None:
    await asyncio.wait_for(bus.consume(durable, [ALL_RUNS], handler, handler.stop), deadline)


async def publish_eventually(bus: Bus, events: Sequence[AnyEvent]) -> list[int]:
    """Publish, retrying while the server is still coming back."""

    async def attempt() -> list[int] | None:
        try:
            return await bus.publish_many(events)
        except BusUnavailable:
            return None

    return await eventually(attempt)


class TestBusContract:
    async def test_publish_returns_stream_sequence(self, harness: BusHarness) -> None:
        """Each publish is acked with the next stream sequence."""
        assert [await harness.bus.publish(started(i)) for i in range(3)] == [1, 2, 3]

    async def test_same_message_id_is_stored_once(self, harness: BusHarness) -> None:
        """Publishing the same fact again (even with another timestamp) returns the original sequence."""
        first = await harness.bus.publish(started(1))
        again = await harness.bus.publish(started(1))
        later = await harness.bus.publish(msgspec.structs.replace(started(1), at=T0 + timedelta(hours=1)))
        assert first == again == later == 1
        assert [r.seq for r in await harness.bus.history(ALL_RUNS)] == [1]

    async def test_publish_many_keeps_order(self, harness: BusHarness) -> None:
        """A pipelined burst gets consecutive sequences in input order and is stored in that order."""
        events = [started(i) for i in range(50)]
        assert await harness.bus.publish_many(events) == list(range(1, 51))
        assert [r.event for r in await harness.bus.history(ALL_RUNS)] == events

    async def test_consumer_resumes_without_redelivering_acked(self, harness: BusHarness) -> None:
        """A restarted consumer (new connection) starts after the last acked message."""
        await harness.bus.publish_many([started(i) for i in range(5)])
        first = Collector(until=5)
        await consume(harness.bus, "svc", first)
        await eventually(lambda: _acked(harness, "svc", 5))
        await harness.bus.publish_many([started(i) for i in range(5, 8)])
        second = Collector(until=3)
        await consume(await harness.connect(), "svc", second)
        assert first.seqs == [1, 2, 3, 4, 5]
        assert second.seqs == [6, 7, 8]
        assert {r.delivered for r in first.got + second.got} == {1}

    async def test_retry_later_redelivers_after_delay(self, harness: BusHarness) -> None:
        """RetryLater naks with the delay; the same message comes back after it, delivered twice."""
        await harness.bus.publish(started(1))
        arrivals: list[tuple[Received, float]] = []
        stop = asyncio.Event()

        async def handler(r: Received) -> None:
            arrivals.append((r, time.monotonic()))
            if r.delivered == 1:
                raise RetryLater("dependency down", delay=0.5)
            stop.set()

        await asyncio.wait_for(harness.bus.consume("svc", [ALL_RUNS], handler, stop), 10)
        (r1, t1), (r2, t2) = arrivals
        assert (r1.seq, r1.delivered, r2.seq, r2.delivered) == (1, 1, 1, 2)
        assert t2 - t1 >= 0.45

    async def test_undecodable_is_termed_and_kept(self, harness: BusHarness) -> None:
        """Bodies outside the catalog never reach the handler, are not redelivered, stay stored."""
        subject = subject_of(started(1))
        await harness.publish_raw(subject, b"not json")
        await harness.publish_raw(subject, b'{"type": "run.exploded", "at": "2026-01-01T00:00:00Z"}')
        await harness.bus.publish(started(3))
        handler = Collector(until=1)
        await consume(harness.bus, "svc", handler)
        assert handler.seqs == [3]
        state = await eventually(lambda: _acked(harness, "svc", 3))
        assert (state.ack_pending, state.redelivered) == (0, 0)
        assert await harness.stored(1) == b"not json"

    async def test_handler_exception_propagates(self, harness: BusHarness) -> None:
        """An unexpected exception stops the consumer; its message is not acked and comes back."""
        await harness.bus.publish(started(1))

        async def broken(r: Received) -> None:
            raise KeyError("bug")

        with pytest.raises(KeyError):
            await asyncio.wait_for(harness.bus.consume("svc", [ALL_RUNS], broken, asyncio.Event()), 10)
        again = Collector(until=1)
        await consume(harness.bus, "svc", again)
        assert [(r.seq, r.delivered) for r in again.got] == [(1, 2)]

    async def test_history_replays_subject_in_order(self, harness: BusHarness) -> None:
        """history(subject) is every stored event on the subject (wildcards too), in stream order."""
        events = [started(i, run=("r1" if i % 2 else "r2")) for i in range(10)]
        await harness.bus.publish_many(events)
        r1 = await harness.bus.history(run_subject(NS, "r1"))
        assert [r.event for r in r1] == [e for e in events if e.run == "r1"]
        assert [r.seq for r in r1] == [2, 4, 6, 8, 10]
        assert [r.event for r in await harness.bus.history(ALL_RUNS)] == events
        assert await harness.bus.history(run_subject("other", "r1")) == []

    async def test_history_of_many_events_is_whole_and_in_order(self, harness: BusHarness) -> None:
        """Thousands of events (several read batches), two runs interleaved: each subject's history
        is every one of its events, in stream order, nothing repeated."""
        events = [started(i, run=("r1" if i % 3 else "r2")) for i in range(2_600)]
        seqs: list[int] = []
        for i in range(0, len(events), 500):
            seqs += await harness.bus.publish_many(events[i : i + 500])
        everything = await harness.bus.history(ALL_RUNS)
        assert [r.seq for r in everything] == seqs
        assert [r.event for r in everything] == events
        r2 = await harness.bus.history(run_subject(NS, "r2"))
        assert [r.seq for r in r2] == [s for s, e in zip(seqs, events, strict=True) if e.run == "r2"]

    async def test_history_ends_at_what_was_stored_when_called(self, harness: BusHarness) -> None:
        """Publishing goes on during the read: history is a prefix of the stream, in order and
        without gaps, holding at least everything stored before the call."""
        before = await harness.bus.publish_many([started(i) for i in range(1_500)])
        stop = asyncio.Event()

        async def publish_more() -> None:
            i = 1_500
            while not stop.is_set():
                await harness.bus.publish_many([started(j) for j in range(i, i + 50)])
                i += 50

        publishing = asyncio.create_task(publish_more())
        try:
            await asyncio.sleep(0)  # the first publish of the writer is on its way
            got = [r.seq for r in await harness.bus.history(ALL_RUNS)]
        finally:
            stop.set()
            await publishing
        assert got[: len(before)] == before
        assert got == list(range(1, len(got) + 1))

    async def test_consumer_survives_server_restart(self, harness: BusHarness) -> None:
        """Events published before and after a server restart are each handled exactly once."""
        handler = Collector(until=6)
        task = asyncio.create_task(harness.bus.consume("svc", [ALL_RUNS], handler, handler.stop))
        await harness.bus.publish_many([started(i) for i in range(3)])
        await eventually(lambda: _acked(harness, "svc", 3))
        await harness.stop_server()
        with pytest.raises(BusUnavailable):
            await harness.bus.publish(started(99))
        await harness.start_server()
        await publish_eventually(harness.bus, [started(i) for i in range(3, 6)])
        await asyncio.wait_for(task, 20)
        assert handler.seqs == [1, 2, 3, 4, 5, 6]
        assert {r.delivered for r in handler.got} == {1}

    async def test_consumer_recreated_when_deleted(self, harness: BusHarness) -> None:
        """A consumer deleted under a running loop is recreated (replaying from the start, as its
        acks went with it) and new events arrive."""
        handler = Collector(last_seq=2)
        task = asyncio.create_task(harness.bus.consume("svc", [ALL_RUNS], handler, handler.stop))
        await harness.bus.publish(started(1))
        await eventually(lambda: _acked(harness, "svc", 1))
        await harness.delete_consumer("svc")
        await harness.bus.publish(started(2))
        await asyncio.wait_for(task, 20)
        assert handler.seqs in ([1, 2], [1, 1, 2])

    async def test_a_durable_for_some_event_types_gets_only_those_and_keeps_its_place(
        self, harness: BusHarness
    ) -> None:
        """A durable consuming every run event, then re-consumed with only RunFinished's subjects,
        gets the RunFinished events after what it acked, none before and no other type."""
        def finished(run: str) -> RunFinished:
            return RunFinished(at=T0, namespace=NS, run=run, uid=f"uid-{run}", phase="Succeeded",
                               reason="Succeeded")

        await harness.bus.publish_many([started(1), finished("r0")])
        everything = Collector(until=2)
        await consume(harness.bus, "svc", everything)
        await eventually(lambda: _acked(harness, "svc", 2))
        await harness.bus.publish_many([started(2, "r1"), finished("r1"), started(3, "r2"), finished("r2")])
        only = Collector(until=2)
        finished_only = run_events_subjects(RunFinished)
        await asyncio.wait_for(harness.bus.consume("svc", finished_only, only, only.stop), 10)
        assert everything.seqs == [1, 2]
        assert only.seqs == [4, 6]
        assert [type(r.event) for r in only.got] == [RunFinished, RunFinished]


async def _acked(harness: BusHarness, durable: str, seq: int) -> AckState | None:
    state = await harness.ack_state(durable)
    return state if state.ack_floor >= seq and state.ack_pending == 0 else None
