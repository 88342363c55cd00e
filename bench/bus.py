"""Throughput of the bus adapter (adapters.jetstream.bus.NatsBus) against the raw nats-py client.

Same nats-server (started here on a free port with a temp store, stopped at the end), same event
bodies and Nats-Msg-Id headers, same run; adapter and raw rounds alternate. Measured, as events/s:

- publish+ack, one at a time:  NatsBus.publish        vs  js.publish
- publish+ack, pipelined:      NatsBus.publish_many   vs  js.publish_async + gather (same burst size)
- consume+ack:                 NatsBus.consume        vs  pull_subscribe + fetch + msg.ack (same batch)

Prints the median rate over the rounds and the median of the per-round ratios adapter/raw (each
round runs both back to back, in alternating order). A second table measures the cost of the
authenticated bus (docs/security.md): the same adapter phases on a second nats-server with c8s's
authorization (publishing as `runner`, consuming as `subscriber`) against the first one without,
in the same run, as the ratio auth/no-auth. Bounded loops; asserts nothing.
Run: .venv/bin/python -m bench.bus [--events N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import nats
import structlog
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.permissions import authorization_config, identities
from adapters.jetstream.server import NatsServer
from adapters.jetstream.settings import BusSettings
from events.codec import encode
from events.run import StepStarted
from events.subjects import RUN_STREAM, message_id, run_subject, subject_of
from ports.bus import Received

BURST = 500
SOURCE = "c8s/bench"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
Phase = Callable[[str, int], Awaitable[None]]


def events(run: str, n: int) -> list[StepStarted]:
    return [
        StepStarted(at=T0, namespace="bench", run=run, uid=f"uid-{run}", step=f"step-{i}", pod=f"pod-{i:08d}")
        for i in range(n)
    ]


def raw_message(e: StepStarted) -> tuple[str, bytes, dict[str, str]]:
    """The message the adapter sends, built by hand: same subject, body and headers."""
    mid = message_id(e)
    headers = {"Nats-Msg-Id": mid, "ce-specversion": "1.0", "ce-type": e.type}
    headers |= {"ce-source": SOURCE, "ce-id": mid}
    return subject_of(e), encode(e), headers


class Bench:
    def __init__(self, bus: NatsBus, raw: Client) -> None:
        self.bus, self.raw, self.js = bus, raw, raw.jetstream()

    async def adapter_publish(self, run: str, n: int) -> None:
        for e in events(run, n):
            await self.bus.publish(e)

    async def raw_publish(self, run: str, n: int) -> None:
        for subject, body, headers in map(raw_message, events(run, n)):
            await self.js.publish(subject, body, headers=headers)

    async def adapter_publish_many(self, run: str, n: int) -> None:
        evs = events(run, n)
        for i in range(0, n, BURST):
            await self.bus.publish_many(evs[i : i + BURST])

    async def raw_publish_many(self, run: str, n: int) -> None:
        msgs = [raw_message(e) for e in events(run, n)]
        for i in range(0, n, BURST):
            futures = [await self.js.publish_async(s, b, headers=h) for s, b, h in msgs[i : i + BURST]]
            await asyncio.gather(*futures)

    async def adapter_consume(self, run: str, n: int) -> None:
        stop, seen = asyncio.Event(), [0]

        async def handler(r: Received) -> None:
            seen[0] += 1
            if seen[0] >= n:
                stop.set()

        await self.bus.consume(f"bench-{run}", [run_subject("bench", run)], handler, stop)

    async def raw_consume(self, run: str, n: int) -> None:
        config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_ack_pending=1000)
        sub = await self.js.pull_subscribe(run_subject("bench", run), durable=f"bench-{run}", config=config)
        seen = 0
        while seen < n:
            for msg in await sub.fetch(self.bus.connection.settings.fetch_batch, timeout=2):
                await msg.ack()
                seen += 1
        await sub.unsubscribe()


async def timed(phase: Phase, run: str, n: int) -> float:
    start = time.perf_counter()
    await phase(run, n)
    return n / (time.perf_counter() - start)


async def compare(name: str, adapter: Phase, raw: Phase, n: int, rounds: int, prepare: Phase | None) -> None:
    rates: dict[str, list[float]] = {"adapter": [], "raw": []}
    for r in range(rounds):
        order = [("adapter", adapter), ("raw", raw)] if r % 2 == 0 else [("raw", raw), ("adapter", adapter)]
        for kind, phase in order:
            run = f"{name}-{kind}-{r}"
            if prepare is not None:
                await prepare(run, n)
            rates[kind].append(await timed(phase, run, n))
    a, b = statistics.median(rates["adapter"]), statistics.median(rates["raw"])
    # Rounds are paired (adapter and raw back to back): the median of per-round ratios is robust
    # against load from other processes that shifts both figures of a round together.
    ratio = statistics.median(x / y for x, y in zip(rates["adapter"], rates["raw"], strict=True))
    print(f"| {name:<22} | {n:>7} | {a:>12,.0f} | {b:>12,.0f} | {ratio:>5.2f} |", flush=True)


async def main(n: int, rounds: int) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "js") as server:
        bus = await NatsBus.connect(BusSettings(servers=[server.url], name="bench"))
        await bus.ensure_streams()
        raw = await nats.connect(server.url)
        b = Bench(bus, raw)
        print(f"nats-server {server.url}, stream {RUN_STREAM}, {rounds} rounds, median events/s")
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
        print("| measure                |  events |      adapter |          raw | ratio |")
        print("|------------------------|--------:|-------------:|-------------:|------:|")
        await compare("publish+ack", b.adapter_publish, b.raw_publish, n // 4, rounds, None)
        await compare("publish_many+acks", b.adapter_publish_many, b.raw_publish_many, n, rounds, None)
        await compare("consume+ack", b.adapter_consume, b.raw_consume, n, rounds, b.raw_publish_many)
        await authenticated(b, Path(tmp) / "auth", n, rounds)
        await bus.close()
        await raw.close()


async def authenticated(plain: Bench, store: Path, n: int, rounds: int) -> None:
    """The adapter with c8s's authorization vs without, same phases, rounds paired."""
    passwords = {user: secrets.token_hex(12) for user in [*identities("local"), OPEN]}
    with NatsServer(store, authorization=with_open_user(passwords)) as server:

        async def bus(user: str) -> NatsBus:
            settings = BusSettings(servers=[server.url], name=user, user=user, password=passwords[user])
            return await NatsBus.connect(settings)

        scheduler, runner, subscriber = await bus("scheduler"), await bus("runner"), await bus("subscriber")
        await scheduler.ensure_streams()
        raw = await nats.connect(
            server.url, user="runner", password=passwords["runner"], inbox_prefix="_INBOX.runner"
        )
        producer, reader = Bench(runner, raw), Bench(subscriber, raw)
        # Run names (hence subjects, message ids, durables) differ from the first table's: the plain
        # server still holds those, and a repeated message id would be dropped as a duplicate.
        await compare_publishing("auth", ("auth", "no auth"), producer, plain, n, rounds)
        await compare_consume(reader, plain, n, rounds)
        opened = await bus(OPEN)
        open_raw = await nats.connect(
            server.url, user=OPEN, password=passwords[OPEN], inbox_prefix=f"_INBOX.{OPEN}"
        )
        same = Bench(opened, open_raw)
        await compare_publishing("perm", ("permissions", "open user"), producer, same, n, rounds)
        for b in (scheduler, runner, subscriber, opened):
            await b.close()
        await raw.close()
        await open_raw.close()


#: A bench-only identity allowed everything: the same server without the permission lists.
OPEN = "bench-open"


def with_open_user(passwords: dict[str, str]) -> str:
    """c8s's authorization plus OPEN (publish and subscribe `>`), to isolate the lists' cost."""
    config = authorization_config({u: p for u, p in passwords.items() if u != OPEN}, "local")
    everything = {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
    entry = {"user": OPEN, "password": passwords[OPEN], "permissions": everything}
    return config.replace("\n  ]\n}\n", ",\n" + json.dumps(entry) + "\n  ]\n}\n")


async def compare_publishing(
    prefix: str, heads: tuple[str, str], first: Bench, second: Bench, n: int, rounds: int
) -> None:
    """A table of the adapter's publish phases: `first` against `second`, paired rounds."""
    title = {"auth": "with auth", "perm": "same server"}[prefix]
    print(f"\n| {title:<22} |  events | {heads[0]:>12} | {heads[1]:>12} | ratio |")
    print("|------------------------|--------:|-------------:|-------------:|------:|")
    one = (first.adapter_publish, second.adapter_publish)
    await compare(f"{prefix}-publish+ack", *one, n // 4, rounds, None)
    many = (first.adapter_publish_many, second.adapter_publish_many)
    await compare(f"{prefix}-publish_many+acks", *many, n, rounds, None)


async def compare_consume(reader: Bench, plain: Bench, n: int, rounds: int) -> None:
    """consume+ack as `subscriber` vs without auth; each side's events published on its own server."""

    async def auth_side(run: str, k: int) -> None:
        await reader.adapter_consume(run, k)

    async def prepare(run: str, k: int) -> None:
        target = reader if "-adapter-" in run else plain
        await target.raw_publish_many(run, k)

    await compare("auth-consume+ack", auth_side, plain.adapter_consume, n, rounds, prepare)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rounds))


if __name__ == "__main__":
    cli()
