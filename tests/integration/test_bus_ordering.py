"""Reading a subject's position and consuming strictly in order (ports.bus next_after, serial).

Covers: next_after returns the first stored event on a subject above a sequence (wildcards
included), None past the end, and skips a body that is not an event; a serial consumer handles
messages strictly in stream order even when one is retried with a delay (a plain consumer lets
later ones overtake it: the bug serial exists for); two processes on one serial durable never
hold two messages at once and handle each once, in order.
"""

from __future__ import annotations

import asyncio

from events.subjects import run_subject, subject_of
from ports.bus import Bus, Received, RetryLater
from tests.integration.conftest import BusHarness
from tests.integration.test_bus_contract import ALL_RUNS, NS, started


async def test_next_after_finds_the_next_event_on_a_subject(harness: BusHarness) -> None:
    """The next event of a run's subject (a wildcard over its typed subjects) or of all runs above
    a sequence, with the subject it is stored on; None past the end."""
    bus = harness.bus
    one, two, three = [await bus.publish(e) for e in (started(1), started(2, "r2"), started(3))]
    r1 = run_subject(NS, "r1")
    assert [(await bus.next_after(r1, after)) for after in (0, one, three)] == [
        Received(event=started(1), seq=one, subject=subject_of(started(1))),
        Received(event=started(3), seq=three, subject=subject_of(started(3))),
        None,
    ]
    found = await bus.next_after(ALL_RUNS, one)
    assert found is not None and found.seq == two


async def test_next_after_skips_an_undecodable_body(harness: BusHarness) -> None:
    """A body that is no catalog event is passed over, not returned."""
    r1 = run_subject(NS, "r1")
    await harness.publish_raw(subject_of(started(2)), b"not json")
    seq = await harness.bus.publish(started(2))
    found = await harness.bus.next_after(r1, 0)
    assert found is not None and found.seq == seq


class RetryFirst:
    """Handler: the first delivery of `retried` asks for a retry; records what it handled."""

    def __init__(self, retried: int, last: int) -> None:
        self.retried, self.last = retried, last
        self.handled: list[int] = []
        self.stop = asyncio.Event()

    async def __call__(self, r: Received) -> None:
        if r.seq == self.retried and r.delivered == 1:
            raise RetryLater("store briefly down", delay=0.3)
        self.handled.append(r.seq)
        if len(self.handled) == self.last:
            self.stop.set()


async def handled_order(bus: Bus, durable: str, serial: bool) -> list[int]:
    seqs = await bus.publish_many([started(i) for i in range(1, 6)])
    handler = RetryFirst(seqs[0], len(seqs))
    await asyncio.wait_for(bus.consume(durable, [ALL_RUNS], handler, handler.stop, serial=serial), 10)
    return handler.handled


async def test_serial_consumer_keeps_stream_order_across_a_retry(harness: BusHarness) -> None:
    """A retried message is handled before any later one on a serial consumer."""
    assert await handled_order(harness.bus, "serial", serial=True) == [1, 2, 3, 4, 5]


async def test_plain_consumer_lets_later_messages_overtake_a_retry(harness: BusHarness) -> None:
    """Without serial a retried message comes back after later ones: the reason folds need more."""
    assert await handled_order(harness.bus, "plain", serial=False) == [2, 3, 4, 5, 1]


async def test_two_processes_on_a_serial_durable_hold_one_message_at_a_time(harness: BusHarness) -> None:
    """Two consumers of one serial durable handle every message once, in order, never two at once."""
    other = await harness.connect()
    seqs = await harness.bus.publish_many([started(i) for i in range(1, 21)])
    handled: list[int] = []
    holding = 0
    peak = 0
    stop = asyncio.Event()

    async def handler(r: Received) -> None:
        nonlocal holding, peak
        holding += 1
        peak = max(peak, holding)
        await asyncio.sleep(0.01)  # hold the message a while, so an overlap would show
        holding -= 1
        handled.append(r.seq)
        if len(handled) == len(seqs):
            stop.set()

    consumers = [b.consume("shared", [ALL_RUNS], handler, stop, serial=True) for b in (harness.bus, other)]
    await asyncio.wait_for(asyncio.gather(*consumers), 20)
    assert handled == seqs and peak == 1
