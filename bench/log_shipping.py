"""Throughput of log masking (steps.masking.Masker) against a plain copy of the same bytes.

The input is a synthetic CI log: timestamped build, test and download lines, with one of the
secrets (raw, base64 inside a Basic auth header, or URL-encoded) on about one line in 500. Five
secrets of 13-40 bytes (26 distinct patterns with their encodings). Rounds alternate plain and
masked; both read the same 64 KiB chunks. Measured, as MB/s (median of the rounds) and the ratio masked/plain:

- in memory: Masker.feed/flush into a list   vs  the chunks appended to a list
- shipped:   services.log_shipper.shipping.ship into a file:// object store with live-line
             splitting (null live publisher), with the five secrets  vs  with none

Asserts nothing. Run: .venv/bin/python -m bench.log_shipping [--mb N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import quote

from adapters.object_store import FsspecObjectStore
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


async def shipped(chunks: list[bytes], store: FsspecObjectStore, secrets: list[bytes]) -> int:
    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    writer = await store.writer("bench/run-1/uid-1/build.log")
    return (await ship(REF, source(), Masker(secrets), writer, NullLive())).bytes


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


if __name__ == "__main__":
    main()
