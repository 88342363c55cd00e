"""Projector lag under a burst, the projector alone: one handler at a time vs several at once.

A real nats-server (file storage, the c8s streams) and the NATS KV store (local mode's store);
`--runs` PipelineRuns created, then every event of every run (3 steps, 15 events a run,
tests.support.histories.script) published at once, the runs interleaved event by event. The
projector (services.projector.service.serve, on its own connection) drains the burst; a watch of
the store records when each status is first seen. Lag of an event = the first time a status
covering it (observedSequence >= its sequence) is seen, minus the moment the burst's publish was
acknowledged; only events that change a status count. Drain = the largest lag.

Variants, alternated in the same run (`--rounds` times each): `serve(concurrency=1)`, one
delivery at a time per consumer (the projector before issue 14's burst work: no two handlers, so
nothing ever waits behind another and nothing folds ahead), and `serve()` (HANDLERS at once, a
per-subject lock, folding ahead for queued deliveries of the same run). Unlike
bench/local_mode.py, no runner competes for the CPUs: this is the projector's own cost.
Prints figures and ratios; asserts nothing.
Run: .venv/bin/python -m bench.projector_burst [--runs 40] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from pathlib import Path

from msgspec.structs import replace

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from adapters.jetstream.settings import BusSettings
from api.pipelinerun import PipelineRun, PipelineRunStatus
from events.codec import AnyEvent
from events.run import RunEvent
from ports.resources import ResourceStore
from projections import run_status
from services.projector.service import HANDLERS, Projector, serve
from tests.support import histories as h

NS = "bench"


class Seen:
    """The first time a watch of the store shows each run's status at or past each sequence."""

    def __init__(self) -> None:
        self.statuses: dict[str, list[tuple[float, int]]] = {}

    async def follow(self, store: ResourceStore) -> None:
        async for change in store.watch(PipelineRun, NS):
            run = change.object
            if isinstance(run, PipelineRun) and run.status is not None:
                seen = self.statuses.setdefault(run.metadata.name, [])
                seen.append((time.time(), run.status.observed_sequence))

    def covering(self, name: str, seq: int) -> float | None:
        return next((t for t, s in self.statuses.get(name, []) if s >= seq), None)


async def burst(
    bus: NatsBus, store: KvStore, seen: Seen, prefix: str, runs: int, handlers: int
) -> list[float]:
    """Lags (s) of one burst drained by a projector with `handlers` at once."""
    histories: list[list[RunEvent]] = []
    for i in range(runs):
        name = f"{prefix}-{i}"
        uid = (await store.create(h.pipeline_run(NS, name))).metadata.uid
        histories.append(h.script(NS, name, uid, [0, 0, 0]))
    events: list[AnyEvent] = []
    for row in itertools.zip_longest(*histories):
        events += (e for e in row if e is not None)
    projector_bus = await NatsBus.connect(replace(bus.connection.settings, name="bench-projector"))
    stop = asyncio.Event()
    serving = asyncio.create_task(
        serve(
            projector_bus,
            Projector(projector_bus, KvStore.from_connection(projector_bus.connection)),
            stop,
            concurrency=handlers,
        )
    )
    seqs: list[int] = []
    for i in range(0, len(events), 1000):
        seqs += await bus.publish_many(events[i : i + 1000])
    published = time.time()
    last = {e.run: s for e, s in zip(events, seqs, strict=True) if isinstance(e, RunEvent)}
    end = time.monotonic() + 300
    while any(seen.covering(run, seq) is None for run, seq in last.items()):
        if time.monotonic() > end:
            raise TimeoutError("the projector did not drain the burst in 300 s")
        await asyncio.sleep(0.01)
    stop.set()
    await serving
    await projector_bus.close()
    return changing_lags(events, seqs, seen, published)


def changing_lags(events: list[AnyEvent], seqs: list[int], seen: Seen, published: float) -> list[float]:
    statuses: dict[str, PipelineRunStatus] = {}
    lags: list[float] = []
    for event, seq in zip(events, seqs, strict=True):
        if not isinstance(event, RunEvent):
            continue
        before = statuses.get(event.run) or run_status.initial()
        after = statuses[event.run] = run_status.evolve(before, seq, event)
        if replace(after, observed_sequence=0) != replace(before, observed_sequence=0):
            covered = seen.covering(event.run, seq)
            assert covered is not None
            lags.append(covered - published)
    return lags


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(runs: int, rounds: int) -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "js") as server:
        bus = await NatsBus.connect(BusSettings(servers=[server.url], name="bench"))
        await bus.ensure_streams()
        store = KvStore.from_connection(bus.connection)
        await store.ensure_buckets()
        await store.create(h.config(NS, 3))
        seen = Seen()
        watching = asyncio.create_task(seen.follow(store))
        found: dict[int, list[list[float]]] = {1: [], HANDLERS: []}
        for r in range(rounds):
            for handlers in found:
                lags = await burst(bus, store, seen, f"r{r}-h{handlers}", runs, handlers)
                found[handlers].append(lags)
                print(
                    f"round {r + 1}, {handlers:>2} at once: {len(lags)} status changes, p50 "
                    f"{pct(lags, 0.5) * 1000:,.0f} ms, p99 {pct(lags, 0.99) * 1000:,.0f} ms, "
                    f"drained in {max(lags) * 1000:,.0f} ms",
                    flush=True,
                )
        watching.cancel()
        await bus.close()
    print(f"\n| projector lag, {runs} runs' events at once | n | p50 (ms) | p99 (ms) | drain (ms) |")
    print("|---|---:|---:|---:|---:|")
    summary = {}
    for handlers, rows in found.items():
        lags = [x for row in rows for x in row]
        summary[handlers] = (pct(lags, 0.5), pct(lags, 0.99), max(lags))
        p50, p99, drain = summary[handlers]
        ms = " | ".join(f"{x * 1000:,.0f}" for x in (p50, p99, drain))
        print(f"| {handlers} at once | {len(lags)} | {ms} |")
    (a50, a99, ad), (b50, b99, bd) = summary[HANDLERS], summary[1]
    ratios = f"p50 {a50 / b50:.2f}, p99 {a99 / b99:.2f}, drain {ad / bd:.2f}"
    print(f"ratios {HANDLERS} at once / 1 at once: {ratios}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.rounds))


if __name__ == "__main__":
    cli()
