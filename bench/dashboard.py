"""The dashboard under load: time to first byte of a run's page, and the live-log delay from the
bus to a server-sent-events client, with N runs streaming at once.

Started here: a nats-server (free port, temp store), the dashboard as its own process
(`python -m services.dashboard`, local mode, file:// objects in the temp dir). Set up: N running
PipelineRuns in the KV store, each with a config snapshot on the bus and a finished step whose
stored log has LOG_LINES lines (so the page renders a real log). Measured:

- TTFB: GET /runs/<ns>/<run> until the response headers arrive, round-robin over the runs, first
  with nothing streaming, then while all N streams receive lines;
- live-log delay: one SSE client per run on /runs/<ns>/<run>/stream; lines published on the live
  log (as the log-shipper does) at RATE lines/s per run; the delay of a line is the time from its
  publish call to its `log` event arriving at the client (one process, one monotonic clock).

Prints p50/p99 (and max) in milliseconds; asserts nothing.
Run: .venv/bin/python -m bench.dashboard [--runs 20] [--seconds 10] [--rate 20] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.live import NatsLiveLog
from adapters.jetstream.server import NatsServer, free_port
from adapters.jetstream.settings import BusSettings
from adapters.object_store import FsspecObjectStore
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfigSpec, Step
from api.pipelinerun import PipelineRun, PipelineRunSpec, PipelineRunStatus, StepStatus
from events import run as ev
from steps.plans import StepRef

NS = "bench"
LOG_LINES = 1000
LAST_LINES_GRACE = 3.0
T0 = datetime.now(UTC)
MARK = re.compile(r"mark-(\d+)-(\d+)")
STEPS = [
    Step(name="build", image="x", commands=["make"]),
    Step(name="test", image="x", commands=["t"], depends_on=["build"]),
]


def percentiles(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    p50, top = statistics.median(ordered), ordered[-1]
    return f"p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   max {top:7.1f} ms   (n={len(ordered)})"


async def seed(bus: NatsBus, store: KvStore, objects: FsspecObjectStore, runs: int) -> list[PipelineRun]:
    log = "".join(
        f"\x1b[32mline {i}\x1b[0m compiling module_{i}.py ... ok\n" for i in range(LOG_LINES)
    ).encode()
    created = []
    for i in range(runs):
        spec = PipelineRunSpec(pipeline_config_ref="app-ci", commit="abcdef1", branch="main", triggered_at=T0)
        run = await store.create(PipelineRun(metadata=ObjectMeta(namespace=NS, name=f"run-{i}"), spec=spec))
        ident = {"namespace": NS, "run": run.metadata.name, "uid": run.metadata.uid, "at": T0}
        snapshot = PipelineConfigSpec(repository="https://github.com/org/app", steps=STEPS)
        await bus.publish_many(
            [ev.RunRequested(spec=spec, **ident), ev.RunAccepted(config="app-ci", snapshot=snapshot, **ident)]
        )
        url = await objects.put(f"{NS}/run-{i}/build.log", log)
        steps = [
            StepStatus(name="build", phase="Succeeded", exit_code=0, log_url=url),
            StepStatus(name="test", phase="Running", start_time=T0),
        ]
        status = PipelineRunStatus(phase="Running", start_time=T0, steps=steps, observed_sequence=1)
        await store.patch_status(PipelineRun, NS, run.metadata.name, status, uid=run.metadata.uid)
        created.append(run)
    return created


async def ttfb(session: aiohttp.ClientSession, base: str, runs: int, requests: int) -> list[float]:
    samples = []
    for i in range(requests):
        started = time.monotonic()
        async with session.get(f"{base}/runs/{NS}/run-{i % runs}") as response:
            samples.append((time.monotonic() - started) * 1000)
            assert response.status == 200, response.status
            await response.read()
    return samples


async def follow(
    session: aiohttp.ClientSession,
    base: str,
    run: int,
    sent: dict[tuple[int, int], float],
    delays: list[float],
    ready: asyncio.Event,
) -> None:
    async with session.get(
        f"{base}/runs/{NS}/run-{run}/stream", timeout=aiohttp.ClientTimeout(total=None)
    ) as response:
        async for raw in response.content:
            ready.set()
            if raw.startswith(b"data: ") and (found := MARK.search(raw.decode())):
                key = (int(found.group(1)), int(found.group(2)))
                if key in sent:
                    delays.append((time.monotonic() - sent[key]) * 1000)


async def publish(
    live: NatsLiveLog,
    runs: list[PipelineRun],
    seconds: float,
    rate: float,
    sent: dict[tuple[int, int], float],
) -> None:
    refs = [
        StepRef(namespace=NS, run=r.metadata.name, uid=r.metadata.uid, step="test", job_name="j")
        for r in runs
    ]
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        tick = time.monotonic()
        for i, ref in enumerate(refs):
            sent[(i, n)] = time.monotonic()
            await live.publish(ref, f"mark-{i}-{n} running test {n}\n".encode())
        n += 1
        await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - tick)))


async def measure(args: argparse.Namespace, tmp: Path) -> None:
    with NatsServer(tmp / "jetstream") as server:
        bus = await NatsBus.connect(BusSettings(servers=[server.url], name="bench"))
        await bus.ensure_streams()
        store = KvStore.from_connection(bus.connection)
        await store.ensure_buckets()
        objects = FsspecObjectStore((tmp / "objects").as_uri())
        runs = await seed(bus, store, objects, args.runs)
        port = free_port()
        env = {**os.environ, "C8S_NATS_URL": server.url, "C8S_HOME": str(tmp), "C8S_LISTEN_PORT": str(port),
               "C8S_METRICS_PORT": "0", "C8S_LOG_LEVEL": "warning"}  # fmt: skip
        log = (tmp / "dashboard.log").open("w")
        argv = (sys.executable, "-m", "services.dashboard")
        proc = await asyncio.create_subprocess_exec(*argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                await wait_ready(session, base)
                print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
                print(f"run page TTFB, idle ({args.runs} runs, {LOG_LINES}-line stored log each):")
                print("  " + percentiles(await ttfb(session, base, args.runs, args.requests)))
                await streaming(session, base, bus, runs, args)
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 10)
            await bus.close()


async def streaming(
    session: aiohttp.ClientSession, base: str, bus: NatsBus, runs: list[PipelineRun], args: argparse.Namespace
) -> None:
    sent: dict[tuple[int, int], float] = {}
    delays: list[float] = []
    ready = [asyncio.Event() for _ in runs]
    followers = [
        asyncio.create_task(follow(session, base, i, sent, delays, ready[i])) for i in range(len(runs))
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 30)
    publisher = asyncio.create_task(publish(NatsLiveLog(bus.connection), runs, args.seconds, args.rate, sent))
    busy = await ttfb(session, base, len(runs), args.requests)
    await publisher
    expected = len(sent)
    await asyncio.sleep(LAST_LINES_GRACE)  # the last lines published are still on their way
    for task in followers:
        task.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    print(f"run page TTFB while {len(runs)} runs stream {args.rate:g} lines/s each:")
    print("  " + percentiles(busy))
    shape = f"{len(runs)} runs x {args.rate:g} lines/s for {args.seconds:g}s"
    print(f"live-log delay, bus -> SSE client, {shape} ({len(delays)} of {expected} lines arrived):")
    print("  " + percentiles(delays))


async def wait_ready(session: aiohttp.ClientSession, base: str) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            async with session.get(f"{base}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the dashboard did not become ready within 30s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="live lines per second per run")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(args, Path(tmp)))


if __name__ == "__main__":
    main()
