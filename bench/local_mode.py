"""Local mode end to end: a real `c8s dev up` (every service its own process), a repository served
by `git daemon`, a 3-step no-op pipeline (`true`, in a line) and signed GitHub push webhooks.

Everything runs on loopback with free ports in a temp dir and is stopped at the end. Measured:

- latency: one webhook at a time (N runs): POST sent -> 202 answered, -> first StepStarted.at
  (the event's own time, from the run's history), -> run terminal (seen by a watch of the store);
- throughput: M webhooks fired at once; runs/s from the first POST to the last run terminal;
- projector lag: for every event of every run that changes its status (the status fold replayed
  here from the history), the moment a watch of the store first sees a status whose
  observedSequence covers it, minus the event's `at`.

Baselines, measured in the same run on the same machine:
- a step's raw work: `git clone` + `git checkout` of the commit + `sh -c true`, one at a time
  (the floor of webhook -> first step started), and 3*M of them with the runner's parallelism
  (the ceiling of runs/s);
- the raw NATS chain a status update rides: JetStream publish -> pull consumer fetch + ack -> KV
  put -> KV watch update, with nats-py on the same nats-server (the floor of projector lag).

Prints figures and ratios; asserts nothing about time.
Run: .venv/bin/python -m bench.local_mode [--runs N] [--burst M] [--logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import msgspec
import nats
from msgspec.structs import replace

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.connection import NatsConnection
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from adapters.jetstream.settings import BusSettings
from api.pipelineconfig import PipelineConfig
from api.pipelinerun import TERMINAL_RUN_PHASES, PipelineRun, PipelineRunStatus
from api.repositoryconnection import RepositoryConnection
from api.secret import Secret
from events.run import RunAccepted, RunEvent, RunRequested, StepScheduled, StepStarted
from events.subjects import run_subject
from ports.resources import Resource, ResourceStore
from projections import run_status
from tests.e2e.local import connection, pipeline, push, secret, step
from tests.support.dev_up import DevUp
from tests.support.git_daemon import GitDaemon, GitRepo

KEY = b"bench-webhook-key"
REPOSITORY = "https://github.com/octo-org/hello-world"
NS = "default"
RUNNER_PARALLELISM = 4  # services.runner.config.RunnerSettings.max_parallel_steps (default)
FLOOR_ROUNDS = 200


def pct(values: list[float], p: float) -> float:
    """The p-th percentile, nearest rank (with 20 values, p99 is the largest)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def row(name: str, values: list[float], floor: list[float] | None = None) -> None:
    p50, p99 = pct(values, 50) * 1000, pct(values, 99) * 1000
    line = f"| {name:<38} | {len(values):>5} | {p50:>8.1f} | {p99:>8.1f} |"
    if floor:
        f50, f99 = pct(floor, 50) * 1000, pct(floor, 99) * 1000
        line += f" {f50:>8.1f} | {f99:>8.1f} | {p50 / f50:>6.1f} |"
    else:
        line += "          |          |        |"
    print(line, flush=True)


def epoch(at: datetime) -> float:
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()


class Client:
    """The bench's own connection to the instance: its resource store and its bus (no CLI)."""

    def __init__(self, conn: NatsConnection) -> None:
        self.conn, self.store, self.bus = conn, KvStore.from_connection(conn), NatsBus(conn)

    @classmethod
    async def connect(cls, server: str, env: dict[str, str] | None = None) -> Client:
        """Connected as the CLI's identity in `env` (dev up's cli.env; the bus is authenticated)."""
        creds = env or {}
        settings = BusSettings(
            servers=[server],
            name="c8s-bench",
            user=creds.get("C8S_NATS_USER", ""),
            password=creds.get("C8S_NATS_PASSWORD", ""),
        )
        conn = NatsConnection(settings)
        await conn.connect()
        return cls(conn)

    async def apply(self, docs: list[dict[str, object]]) -> None:
        kinds: dict[str, type[Resource]] = {
            "Secret": Secret,
            "PipelineConfig": PipelineConfig,
            "RepositoryConnection": RepositoryConnection,
        }
        for doc in docs:
            await self.store.apply(msgspec.convert(doc, kinds[str(doc["kind"])]))


class Statuses:
    """Every status a watch of the store shows, per run, with the wall-clock time it was seen."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[float, PipelineRunStatus]]] = defaultdict(list)
        self.terminal: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def follow(self, store: ResourceStore) -> None:
        async for change in store.watch(PipelineRun, NS):
            run, now = change.object, time.time()
            if not isinstance(run, PipelineRun) or run.status is None:
                continue
            self.seen[run.metadata.name].append((now, run.status))
            if run.status.phase in TERMINAL_RUN_PHASES:
                self.terminal.setdefault(run.metadata.name, now)
                self.changed.set()

    async def wait_terminal(self, names: list[str], deadline: float = 600) -> None:
        end = time.monotonic() + deadline
        while not all(n in self.terminal for n in names):
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), max(0.0, end - time.monotonic()))

    def first_covering(self, name: str, seq: int) -> float | None:
        return next((t for t, s in self.seen[name] if s.observed_sequence >= seq), None)


class Bench:
    def __init__(self, webhook: str, commit: str, session: aiohttp.ClientSession) -> None:
        self.webhook, self.commit, self.session = webhook, commit, session
        self.names: list[str] = []

    async def post(self) -> tuple[float, float, str]:
        """(sent, answered, run name) of one signed push webhook."""
        # a distinct `before` per push: the webhook refuses a replayed signed body
        body, headers = push("github", self.commit, "main", KEY, str(uuid.uuid4()), before=uuid.uuid4().hex)
        sent = time.time()
        async with self.session.post(f"{self.webhook}/github", data=body, headers=headers) as response:
            answer = await response.json()
            if response.status != 202:
                raise RuntimeError(f"webhook answered {response.status}: {answer}")
        return sent, time.time(), answer["runs"][0]


async def first_step_started(bus: NatsBus, name: str) -> float:
    history = await bus.history(run_subject(NS, name))
    return min(epoch(r.event.at) for r in history if isinstance(r.event, StepStarted))


STAGES = (RunRequested, RunAccepted, StepScheduled, StepStarted)


async def stages(bus: NatsBus, name: str, sent: float) -> dict[str, float]:
    """Where webhook -> first StepStarted goes: each event's `at` minus the one before (the POST
    for RunRequested), from the first event of each type in the run's history."""
    first: dict[type[RunEvent], float] = {}
    for r in await bus.history(run_subject(NS, name)):
        if isinstance(r.event, STAGES):
            first.setdefault(type(r.event), epoch(r.event.at))
    times = [sent, *(first[kind] for kind in STAGES)]
    pairs = zip(STAGES, times, times[1:], strict=False)
    return {f"{kind.__name__}.at - previous": b - a for kind, a, b in pairs}


async def lags(bus: NatsBus, statuses: Statuses, names: list[str]) -> list[float]:
    """Seen-time of the first status covering each status-changing event, minus the event's `at`."""
    found: list[float] = []
    for name in names:
        history = await bus.history(run_subject(NS, name))
        status = run_status.initial()
        for r in history:
            if not isinstance(r.event, RunEvent):
                continue
            folded = run_status.evolve(status, r.seq, r.event)
            if replace(folded, observed_sequence=0) != replace(status, observed_sequence=0):
                seen = statuses.first_covering(name, r.seq)
                if seen is not None:
                    found.append(seen - epoch(r.event.at))
            status = folded
    return found


async def raw_step(url: str, commit: str, work: Path) -> float:
    """git clone + checkout of the commit + sh -c true, as the runner does per step; seconds."""
    start = time.perf_counter()
    for argv in (
        ["git", "clone", "--quiet", "--no-checkout", url, str(work)],
        ["git", "-C", str(work), "checkout", "--quiet", commit],
        ["sh", "-c", "true"],
    ):
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL)
        if await proc.wait() != 0:
            raise RuntimeError(f"{argv} exited {proc.returncode}")
    return time.perf_counter() - start


async def raw_steps_rate(url: str, commit: str, tmp: Path, runs: int) -> float:
    """Runs/s of 3 raw steps per run, RUNNER_PARALLELISM at a time (no scheduling, no events)."""
    slots = asyncio.Semaphore(RUNNER_PARALLELISM)

    async def one(i: int) -> None:
        async with slots:
            await raw_step(url, commit, tmp / f"raw-{i}")

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(3 * runs)))
    return runs / (time.perf_counter() - start)


async def raw_nats_chain(server: str, rounds: int) -> list[float]:
    """JetStream publish -> pull fetch + ack -> KV put -> KV watch update, one at a time; seconds."""
    nc = await nats.connect(server)
    js = nc.jetstream()
    await js.add_stream(name="BENCH_FLOOR", subjects=["bench.floor"])
    kv = await js.create_key_value(bucket="bench_floor", history=1)
    sub = await js.pull_subscribe("bench.floor", durable="bench-floor")
    watcher = await kv.watch("status")
    await watcher.updates(timeout=2)  # the end of the (empty) snapshot
    found: list[float] = []
    for i in range(rounds):
        start = time.perf_counter()
        await js.publish("bench.floor", str(i).encode())
        [msg] = await sub.fetch(1, timeout=5)
        await msg.ack()
        await kv.put("status", msg.data)
        while (entry := await watcher.updates(timeout=5)) is None or entry.value != msg.data:
            pass
        found.append(time.perf_counter() - start)
    await watcher.stop()
    await js.delete_stream("BENCH_FLOOR")
    await js.delete_key_value("bench_floor")
    await nc.close()
    return found


def manifests(url: str) -> list[dict[str, object]]:
    steps = [step("a", "true"), step("b", "true", dependsOn=["a"]), step("c", "true", dependsOn=["b"])]
    return [
        secret("hook", **{"webhook-secret": KEY.decode()}),
        # Every push is to main: without this, each push of the burst would cancel the runs before it.
        pipeline("noop", url, steps, cancelSuperseded=False),
        connection("gh", "github", REPOSITORY, "noop", "hook"),
    ]


HEADER = (
    "| measure (ms)                           |     n |      p50 |      p99 | floor p50| floor p99|  ratio |"
)
RULE = (
    "|----------------------------------------|------:|---------:|---------:|---------:|---------:|-------:|"
)


async def one_at_a_time(c8s: Client, bench: Bench, statuses: Statuses, n: int) -> dict[str, list[float]]:
    """Latencies of n runs, each fired once the previous one is terminal; 'names' holds the runs."""
    found: dict[str, list[float]] = defaultdict(list)
    for _ in range(n):
        sent, answered, name = await bench.post()
        await statuses.wait_terminal([name])
        found["answered"].append(answered - sent)
        found["started"].append(await first_step_started(c8s.bus, name) - sent)
        for stage, took in (await stages(c8s.bus, name, sent)).items():
            found[stage].append(took)
        found["finished"].append(statuses.terminal[name] - sent)
        bench.names.append(name)
    return found


async def at_once(bench: Bench, statuses: Statuses, burst: int) -> tuple[float, list[str]]:
    """Runs/s of `burst` webhooks fired together, first POST to last run terminal; and the runs."""
    start = time.time()
    names = [name for _, _, name in await asyncio.gather(*(bench.post() for _ in range(burst)))]
    await statuses.wait_terminal(names)
    phases = Counter(s.phase for name in names for _, s in statuses.seen[name][-1:])
    print(f"burst: the runs' final phases {dict(phases)}", flush=True)
    return burst / (max(statuses.terminal[x] for x in names) - start), names


async def measure(c8s: Client, dev: DevUp, url: str, commit: str, tmp: Path, n: int, burst: int) -> None:
    clone = [await raw_step(url, commit, tmp / f"floor-{i}") for i in range(min(n, 20))]
    # On a server of its own without authorization: no c8s identity may create streams or buckets.
    with NatsServer(tmp / "floor") as floor:
        nats_floor = await raw_nats_chain(floor.url, FLOOR_ROUNDS)
    raw_rate = await raw_steps_rate(url, commit, tmp, burst)
    webhook = f"http://127.0.0.1:{dev.webhook_port}/webhooks"
    async with aiohttp.ClientSession() as session:
        statuses = Statuses()
        watching = asyncio.create_task(statuses.follow(c8s.store))
        bench = Bench(webhook, commit, session)
        single = await one_at_a_time(c8s, bench, statuses, n)
        rate, burst_names = await at_once(bench, statuses, burst)
        lag_one = await lags(c8s.bus, statuses, bench.names)
        lag_burst = await lags(c8s.bus, statuses, burst_names)
        watching.cancel()
    print(f"{HEADER}\n{RULE}")
    row("webhook POST -> 202", single["answered"])
    row("webhook POST -> first StepStarted.at", single["started"], clone)
    for stage in (f"{kind.__name__}.at - previous" for kind in STAGES):
        row(f"  {stage}", single[stage], clone if stage.startswith("StepStarted") else None)
    row("webhook POST -> run terminal (watched)", single["finished"])
    row("projector lag, one run at a time", lag_one, nats_floor)
    row(f"projector lag, {burst} runs at once", lag_burst, nats_floor)
    print("\nfloors: first step = one raw clone+checkout+sh; lag = raw JetStream->KV->watch chain")
    print(f"sustained: {burst} runs x 3 steps: {rate:.2f} runs/s")
    print(f"raw steps ({RUNNER_PARALLELISM} at a time): {raw_rate:.2f} runs/s; ratio {rate / raw_rate:.2f}")


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Instance:
    """A running `c8s dev up` with the bench's pipeline applied, and the repository it runs."""

    c8s: Client
    dev: DevUp
    url: str
    commit: str


@contextlib.asynccontextmanager
async def instance(tmp: Path, logs: Path | None = None) -> AsyncIterator[Instance]:
    """app.git (one commit) served by `git daemon`, `c8s dev up` in `tmp`, manifests(url) applied;
    every service's log copied to `logs` at the end (to read an outlier afterwards)."""
    repo = GitRepo.create(tmp / "repos" / "app.git")
    commit = repo.commit({"README": "bench\n"}, "first")
    with GitDaemon(tmp / "repos") as daemon, DevUp(tmp / "c8s") as dev:
        dev.wait_for(r"^c8s is up$", deadline=120)
        c8s = await Client.connect(f"nats://127.0.0.1:{dev.nats_port}", dev.cli_env())
        await c8s.apply(manifests(daemon.url("app.git")))
        yield Instance(c8s=c8s, dev=dev, url=daemon.url("app.git"), commit=commit)
        await c8s.conn.close()
        if logs is not None:
            shutil.copytree(tmp / "c8s" / "logs", logs, dirs_exist_ok=True)
        dev.stop()


async def main(n: int, burst: int, logs: Path | None) -> None:
    print(f"load average before: {loadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        async with instance(tmp, logs) as it:
            await measure(it.c8s, it.dev, it.url, it.commit, tmp, n, burst)
    print(f"load average after: {loadavg()}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs one at a time, for latency")
    parser.add_argument("--burst", type=int, default=40, help="runs fired at once, for runs/s")
    parser.add_argument("--logs", type=Path, help="copy the dev dir's logs (every service's) here")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.burst, args.logs))


if __name__ == "__main__":
    cli()
