"""Rebuilding every PipelineRun status from the event history: 1 M events through the real fold.

Generates runs of 3 steps (RunRequested, RunAccepted, per step StepScheduled, StepStarted,
StepFinished, LogShipped, then RunFinished: 15 events; bench.kube_mode.history, one uid per run),
interleaved the way concurrent runs land in the stream (blocks of `--overlap` runs, their events
round-robin), encoded with the catalog codec exactly as stored. Then, timed:

1. *in memory*, the whole history: decode every body (events.codec.decode) and fold it into its
   run's status (projections.run_status.evolve, the projector's fold), a dict of statuses by run;
2. *from a real JetStream stream*: the events (all of them by default, `--sample` fewer)
   published into a nats-server (file storage, the c8s streams of NatsBus.ensure_streams), then
   read back and folded the same way, three times:
   - by NatsBus.history of every run subject (an ephemeral unacked consumer read in pulls of
     1,000 through an inbox callback: adapters/jetstream/replay.py; what a rebuild tool uses);
   - by the reader history had before (nats-py `fetch(256)` on the same kind of consumer,
     `Msg.metadata` per message), as the baseline of the same run;
   - by a fresh durable through NatsBus.consume (fetch, decode, handler, ack each: the
     projector's own path).
   With a sample, per-event times are extrapolated to the full count (the per-event cost of a
   sequential read of a file store is flat in the stream's size).

Writing the rebuilt statuses to the store is not included (one write per run, ~67 k for 1 M
events; see bench/README.md for the store's write cost). Prints figures; asserts nothing.
Run: .venv/bin/python -m bench.rebuild [--events 1000000] [--sample N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from msgspec.structs import replace

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.server import NatsServer
from adapters.jetstream.settings import BusSettings
from adapters.jetstream.streams import stream_of
from bench.kube_mode import history
from bench.stream_lag import replay_consumer
from events import codec
from events.codec import AnyEvent
from events.run import RunEvent
from events.subjects import RUN_SUBJECTS
from ports.bus import Received
from projections import run_status

STEPS = ["build", "test", "lint"]
PER_RUN = len(history("r", STEPS, [], "s3://b"))


def runs_events(runs: int, overlap: int) -> Iterator[RunEvent]:
    """Every event of `runs` runs, `overlap` runs at a time interleaved event by event."""
    for block in range(0, runs, overlap):
        histories = [_run(i) for i in range(block, min(block + overlap, runs))]
        for events in itertools.zip_longest(*histories):
            yield from (e for e in events if e is not None)


def _run(i: int) -> list[RunEvent]:
    uid = f"00000000-0000-4000-8000-{i:012d}"
    return [replace(e, uid=uid) for e in history(f"payments-api-ci-{i}", STEPS, [], "s3://acme-ci-logs/c8s")]


def fold_bodies(bodies: list[bytes]) -> dict[str, run_status.Status]:
    statuses: dict[str, run_status.Status] = {}
    for seq, body in enumerate(bodies, start=1):
        event = codec.decode(body)
        assert isinstance(event, RunEvent)
        statuses[event.uid] = run_status.evolve(statuses.get(event.uid) or run_status.initial(), seq, event)
    return statuses


def in_memory(total: int, overlap: int) -> None:
    began = time.perf_counter()
    bodies = [codec.encode(e) for e in runs_events(total // PER_RUN, overlap)]
    made = time.perf_counter() - began
    began = time.perf_counter()
    statuses = fold_bodies(bodies)
    took = time.perf_counter() - began
    finished = sum(s.phase == "Succeeded" for s in statuses.values())
    print(
        f"generated and encoded {len(bodies):,} events ({sum(map(len, bodies)) / 1e6:.0f} MB) in {made:.1f} s"
    )
    print(
        f"| in memory: decode + fold | {len(bodies):,} | {len(statuses):,} runs ({finished:,} Succeeded) "
        f"| {took:.1f} s | {len(bodies) / took:,.0f} events/s |"
    )


async def from_stream(sample: int, total: int, overlap: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "js") as server:
        bus = await NatsBus.connect(BusSettings(servers=[server.url], name="bench-rebuild"))
        await bus.ensure_streams()
        began, count, batch = time.perf_counter(), 0, list[AnyEvent]()
        for event in runs_events(sample // PER_RUN, overlap):
            batch.append(event)
            if len(batch) == 1000:
                count += len(await bus.publish_many(batch))
                batch = []
        count += len(await bus.publish_many(batch)) if batch else 0
        print(f"published {count:,} events in {time.perf_counter() - began:.1f} s", flush=True)
        began = time.perf_counter()
        statuses = fold_received(await bus.history(RUN_SUBJECTS))
        new = report(
            "JetStream replay (history: pulls of 1,000, inbox callback) + fold", count, statuses, began, total
        )
        began = time.perf_counter()
        statuses = fold_received(await fetch_replay(bus, RUN_SUBJECTS))
        old = report(
            "JetStream replay, the previous reader (nats-py fetch(256)) + fold", count, statuses, began, total
        )
        print(f"history / previous reader: {new / old:.2f}", flush=True)
        began = time.perf_counter()
        statuses = await consumed(bus, count)
        report("JetStream durable consume (fetch, decode, fold, ack each)", count, statuses, began, total)
        await bus.close()


async def fetch_replay(bus: NatsBus, subject: str) -> list[Received]:
    """History's reader before adapters/jetstream/replay.py: the same ephemeral consumer read with
    nats-py's fetch(256), Msg.metadata per message (the baseline)."""
    conn = bus.connection
    js, stream = conn.js, stream_of([subject])
    last = (await js.stream_info(stream)).state.last_seq
    name, _ = await replay_consumer(js, stream, subject, "bench-fetch")
    sub = await js.pull_subscribe_bind(consumer=name, stream=stream)
    out: list[Received] = []
    try:
        while True:
            for msg in await sub.fetch(256, timeout=conn.settings.request_timeout):
                meta = msg.metadata
                if meta.sequence.stream > last:
                    return out
                event = codec.decode(msg.data)
                out.append(Received(event=event, seq=meta.sequence.stream, subject=msg.subject))
                if meta.num_pending == 0 or meta.sequence.stream == last:
                    return out
    finally:
        await sub.unsubscribe()
        await js.delete_consumer(stream, name)


def fold_received(received: list[Received]) -> dict[str, run_status.Status]:
    statuses: dict[str, run_status.Status] = {}
    for r in received:
        fold_one(statuses, r)
    return statuses


def fold_one(statuses: dict[str, run_status.Status], received: Received) -> None:
    event = received.event
    assert isinstance(event, RunEvent)
    statuses[event.uid] = run_status.evolve(
        statuses.get(event.uid) or run_status.initial(), received.seq, event
    )


async def consumed(bus: NatsBus, count: int) -> dict[str, run_status.Status]:
    statuses: dict[str, run_status.Status] = {}
    stop = asyncio.Event()

    async def fold(received: Received) -> None:
        fold_one(statuses, received)
        if received.seq >= count:
            stop.set()

    await bus.consume("bench-rebuild", [RUN_SUBJECTS], fold, stop)
    return statuses


def report(label: str, n: int, statuses: dict[str, run_status.Status], began: float, total: int) -> float:
    """Print a table row; the seconds it took."""
    took = time.perf_counter() - began
    full = f"{took:.0f} s" if n > total - PER_RUN else f"{took * total / n:.0f} s (extrapolated)"
    print(
        f"| {label} | {n:,} | {len(statuses):,} runs | {took:.1f} s | {n / took:,.0f} events/s "
        f"| {total:,} events: {full} |",
        flush=True,
    )
    return took


async def main(args: argparse.Namespace) -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    in_memory(args.events, args.overlap)
    sample = args.events if args.sample is None else args.sample
    if sample:
        await from_stream(sample, args.events, args.overlap)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--sample", type=int, default=None, help="events read from a real stream (default: all; 0: skip)"
    )
    parser.add_argument("--overlap", type=int, default=100, help="runs whose events interleave")
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
