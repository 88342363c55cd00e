"""Projector lag from the stream: when each event was stored vs when a watch saw a status covering it.

The projector cannot act on an event before JetStream has stored it, so "projector lag" (issue 14
item 4) is (first watched status whose observedSequence covers the event) - (the event's stored
time in the stream). The event's own `at` is a second, labelled figure: for most events it is c8s's
clock just before publishing, but in Kubernetes mode StepStarted/StepFinished carry the container's
startedAt/finishedAt from the pod status (whole seconds, truncated, stamped by the node before the
job-watcher's watch sees the pod), so `at`-based lag of those includes the pod status's way to the
job-watcher and up to 1 s of truncation.

The stored time is read from a short-lived pull consumer's message metadata (the `$JS.ACK` reply
subject's timestamp, the nats-server's clock on this machine, the same clock as the bench's
time.time()). Only events that change the status count (as in bench/local_mode.lags).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from msgspec.structs import replace
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy

from adapters.jetstream.connection import NatsConnection
from adapters.jetstream.streams import stream_of
from bench import local_mode
from events.codec import decode
from events.run import RunEvent
from events.subjects import run_subject
from projections import run_status


@dataclass(frozen=True)
class Stored:
    seq: int
    stored: float  # epoch seconds, the stream's timestamp of the message
    event: RunEvent


async def replay_consumer(
    js: JetStreamContext, stream: str, subject: str, prefix: str
) -> tuple[str, ConsumerInfo]:
    """A new unacknowledged in-memory consumer replaying `subject` from its start (the server
    removes it 30 s after its last use): its name and info."""
    name = f"{prefix}-{uuid.uuid4().hex}"
    config = ConsumerConfig(
        name=name,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.NONE,
        filter_subject=subject,
        mem_storage=True,
        inactive_threshold=30.0,
    )
    return name, await js.add_consumer(stream, config)


async def stored_history(conn: NatsConnection, subject: str) -> list[Stored]:
    """Every run event on `subject` with its stream timestamp, in stream order."""
    stream, js = stream_of([subject]), conn.js
    name, info = await replay_consumer(js, stream, subject, "bench-lag")
    out: list[Stored] = []
    sub = await js.pull_subscribe_bind(consumer=name, stream=stream)
    try:
        pending = info.num_pending
        while pending:
            for msg in await sub.fetch(min(pending, 256), timeout=10):
                meta = msg.metadata
                event = decode(msg.data)
                if isinstance(event, RunEvent):
                    out.append(Stored(meta.sequence.stream, meta.timestamp.timestamp(), event))
                pending = meta.num_pending
    finally:
        await sub.unsubscribe()
        await js.delete_consumer(stream, name)
    return out


@dataclass
class Lags:
    """Per event type: lag from the stored time and from the event's `at` (seconds)."""

    stored: dict[str, list[float]]
    at: dict[str, list[float]]

    def all(self, which: str) -> list[float]:
        by_type = self.stored if which == "stored" else self.at
        return [x for values in by_type.values() for x in values]


async def lags(conn: NatsConnection, statuses: local_mode.Statuses, names: list[str]) -> Lags:
    found = Lags(defaultdict(list), defaultdict(list))
    for name in names:
        status = run_status.initial()
        for s in await stored_history(conn, run_subject(local_mode.NS, name)):
            folded = run_status.evolve(status, s.seq, s.event)
            if replace(folded, observed_sequence=0) != replace(status, observed_sequence=0):
                seen = statuses.first_covering(name, s.seq)
                if seen is not None:
                    kind = type(s.event).__name__
                    found.stored[kind].append(seen - s.stored)
                    found.at[kind].append(seen - local_mode.epoch(s.event.at))
            status = folded
    return found


def table(label: str, found: Lags) -> None:
    """One row for all events, then one per event type: lag from stored time, and from `at`."""
    print(f"\nprojector lag, {label} (ms): from the event's stored time in the stream | from its `at`")
    print("| events        |     n | stored p50 | stored p99 |   `at` p50 |   `at` p99 |")
    print("|---------------|------:|-----------:|-----------:|-----------:|-----------:|")
    rows = [("all", found.all("stored"), found.all("at"))]
    rows += [(kind, found.stored[kind], found.at[kind]) for kind in sorted(found.stored)]
    for kind, stored, at in rows:
        cells = [local_mode.pct(v, p) * 1000 for v in (stored, at) for p in (50, 99)]
        print(f"| {kind:<13} | {len(stored):>5} | " + " | ".join(f"{c:>10,.1f}" for c in cells) + " |")
