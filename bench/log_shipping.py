"""Throughput of log masking (steps.masking.Masker) against a plain copy of the same bytes.

The input is a synthetic CI log: timestamped build, test and download lines, with one of the
secrets (raw, base64 inside a Basic auth header, or URL-encoded) on about one line in 500. Five
secrets of 13-40 bytes (26 distinct patterns with their encodings). Rounds alternate plain and
masked; both read the same 64 KiB chunks. Measured, as MB/s (median of the rounds) and the ratio masked/plain:

- in memory: Masker.feed/flush into a list   vs  the chunks appended to a list
- shipped:   services.log_shipper.shipping.ship into a file:// object store with live-line
             splitting (null live publisher), with the five secrets  vs  with none

- chatty:    a step printing N short lines ("7\\n", 2 bytes each; the issue's 20 M lines = 40 MB),
             shipped with the five secrets into a file:// store and onto the live subjects of a
             real nats-server (NatsLiveLog, batches of lines)  vs  a plain copy of the same chunks
             into the same store; and, on a 1 M-line sample, one NATS publish per line (what the
             shipper did before batching), for the before/after figure.

Asserts nothing. Run: .venv/bin/python -m bench.log_shipping [--mb N] [--rounds R] [--lines N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.live import NatsLiveLog
from adapters.jetstream.server import NatsServer
from adapters.jetstream.settings import BusSettings
from adapters.object_store import FsspecObjectStore
from ports.live import LiveLog
from services.log_shipper.shipping import ship
from steps.masking import Masker, patterns
from steps.plans import StepRef

CHUNK = 64 * 1024
SECRETS = [
    b"ghp_R8x2Kq9LmZ4vW7nT1sY3",
    b"AKIAIOSFODNN7EXAMPLE",
    b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    b"p@ssw0rd!2026",
    b"xoxb-123456789012-abcdef",
]
REF = StepRef(namespace="bench", run="run-1", uid="uid-1", step="build", job_name="run-1-build")
TEMPLATES = [
    "{ts} [INFO] Compiling module src/service/handler_{n}.py ... ok",
    "{ts} Downloading https://registry.example.com/packages/lib-{n}-1.{n}.0.tar.gz (245 kB)",
    "{ts} tests/unit/test_feature_{n}.py::test_case_{n} PASSED                    [ {p}%]",
    "{ts} npm WARN deprecated package-{n}@2.0.{n}: use package-next instead",
    "{ts} Step {n}/12 : RUN make build TARGET=linux-amd64 VERSION=1.{n}.0",
]


def synthetic_log(size: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    lines: list[bytes] = []
    total = 0
    while total < size:
        line = _line(rng)
        lines.append(line)
        total += len(line)
    return b"".join(lines)[:size]


def _line(rng: random.Random) -> bytes:
    ts = f"2026-01-01T12:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z"
    if rng.randrange(500) == 0:
        secret = rng.choice(SECRETS)
        form = rng.choice(
            [secret, b"Authorization: Basic " + base64.b64encode(b"ci:" + secret), quote(secret).encode()]
        )
        return ts.encode() + b" export TOKEN=" + form + b"\n"
    n = rng.randrange(1000)
    return (rng.choice(TEMPLATES).format(ts=ts, n=n, p=n % 100) + "\n").encode()


def chunks_of(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def plain_copy(chunks: list[bytes]) -> int:
    out: list[bytes] = []
    for chunk in chunks:
        out.append(bytes(chunk))
    return len(b"".join(out))


def masked_copy(chunks: list[bytes]) -> int:
    masker = Masker(SECRETS)
    out = [masker.feed(chunk) for chunk in chunks]
    out.append(masker.flush())
    return len(b"".join(out))


class NullLive:
    async def publish(self, ref: StepRef, line: bytes) -> None:
        return None


async def shipped(
    chunks: list[bytes], store: FsspecObjectStore, secrets: list[bytes], live: LiveLog | None = None
) -> int:
    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    writer = await store.writer("bench/run-1/uid-1/build.log")
    shipped = await ship(REF, source(), Masker(secrets), writer, live or NullLive())
    assert shipped is not None  # no still_wanted check: always shipped
    return shipped.bytes


async def copied(chunks: list[bytes], store: FsspecObjectStore) -> int:
    """The floor: the same chunks into the same store, nothing else."""
    writer = await store.writer("bench/run-1/uid-1/build.log")
    for chunk in chunks:
        await writer.write(chunk)
    await writer.close()
    return sum(map(len, chunks))


async def chatty(lines: int, rounds: int, store: FsspecObjectStore) -> None:
    """Short lines shipped with live batches to a real nats-server, vs a plain copy; per-line before."""
    data = b"7\n" * lines
    chunks = chunks_of(data)
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "js") as server:
        bus = await NatsBus.connect(BusSettings(servers=[server.url], name="bench-live"))
        live = NatsLiveLog(bus.connection)
        plain, masked = [], []
        for _ in range(rounds):
            plain.append(await _timed_async(lambda: copied(chunks, store)))
            masked.append(await _timed_async(lambda: _shipped_live(chunks, store, live, bus)))
        sample = data.splitlines(keepends=True)[:1_000_000]
        per_line = await _timed_async(lambda: _per_line(sample, live, bus))
        await bus.close()
    print(f"chatty: {lines:,} lines of 2 bytes = {len(data) / 1e6:.0f} MB, live to nats-server {server.url}")
    report("chatty", len(data), plain, masked)
    before = len(sample) * 2 / 1e6 / per_line
    print(f"{'before':<10} one publish per line (1 M-line sample): {before:9.1f} MB/s")


async def _shipped_live(chunks: list[bytes], store: FsspecObjectStore, live: LiveLog, bus: NatsBus) -> int:
    size = await shipped(chunks, store, SECRETS, live)
    await bus.connection.client.flush()
    return size


async def _per_line(lines: list[bytes], live: LiveLog, bus: NatsBus) -> int:
    for line in lines:
        await live.publish(REF, line)
    await bus.connection.client.flush()
    return len(lines)


async def _timed_async(call: Callable[[], Awaitable[int]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


def timed(call: Callable[[], int]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def report(name: str, size: int, plain: list[float], masked: list[float]) -> None:
    mb = size / 1e6
    p, m = mb / statistics.median(plain), mb / statistics.median(masked)
    print(f"{name:<10} plain {p:9.1f} MB/s   masked {m:9.1f} MB/s   ratio masked/plain {m / p:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lines", type=int, default=20_000_000)
    args = parser.parse_args()
    data = synthetic_log(args.mb * 1_000_000)
    chunks = chunks_of(data)
    print(
        f"log: {len(data) / 1e6:.0f} MB in {len(chunks)} chunks of {CHUNK // 1024} KiB, "
        f"{len(SECRETS)} secrets -> {len(patterns(SECRETS))} patterns, rounds: {args.rounds}"
    )
    plain, masked = [], []
    for _ in range(args.rounds):
        plain.append(timed(lambda: plain_copy(chunks)))
        masked.append(timed(lambda: masked_copy(chunks)))
    report("in memory", len(data), plain, masked)
    with tempfile.TemporaryDirectory() as tmp:
        store = FsspecObjectStore(Path(tmp).as_uri())
        plain, masked = [], []
        for _ in range(args.rounds):
            plain.append(timed(lambda: asyncio.run(shipped(chunks, store, []))))
            masked.append(timed(lambda: asyncio.run(shipped(chunks, store, SECRETS))))
        report("shipped", len(data), plain, masked)
        asyncio.run(chatty(args.lines, args.rounds, store))


if __name__ == "__main__":
    main()
