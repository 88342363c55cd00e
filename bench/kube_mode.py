"""Kubernetes mode: the status object of a 50-step run, and the adapters against the real control plane.

1. Status size (no cluster): the PipelineRunStatus a 50-step run ends with, built by folding the
   run's whole history through projections.run_status.fold (per step: scheduled, started, finished,
   log shipped to s3://, artifacts uploaded), encoded with msgspec JSON as the projector writes it;
   bytes vs the 64 KiB target, for realistic names and for names at their limits.
2. Job creation (real control plane from tests/controlplane, started here in a temp dir with free
   ports, stopped at the end): the scheduler's executor (adapters.kube.jobs.KubeExecutor.start, the
   full Job body of steps.job_manifest) vs kubernetes_asyncio creating the same bodies
   directly, the same number in flight; Jobs/s and the ratio. The namespace has a ResourceQuota of
   0 pods, so the job controller creates no pods and the node agent stays idle.
3. Status write -> seen by a watch: adapters.kube.store.KubeStore.patch_status (what the projector
   calls) vs a raw merge patch of the status subresource, the same statuses, each awaited on one
   watch before the next; p50/p99 of the write call itself (its round trips) and of (seen - the
   moment the write was sent), and the p50 ratios adapter/raw.
4. End to end through `c8s dev up --kubeconfig` (webhook -> first Job -> terminal status, runs/s of
   a burst), after the raw chained-Jobs floor of bench/kube_floor.py at the same burst (its ratio);
   projector lag from each event's stored time in the stream, with the lag from its `at` beside it,
   per event type (bench/stream_lag.py), and the apiserver's request counts over the burst
   (bench/apiserver_requests.py).

Rounds alternate adapter and raw. Prints figures and ratios; asserts nothing about time.
Run: .venv/bin/python -m bench.kube_mode [--jobs N] [--rounds R] [--writes W]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from kubernetes_asyncio import client, config, watch

from adapters.jetstream.connection import NatsConnection
from adapters.jetstream.settings import BusSettings
from adapters.kube.client import KubeSettings
from adapters.kube.connection import KubeConnection
from adapters.kube.jobs import KubeExecutor
from adapters.kube.store import KubeStore
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfigSpec, Step
from api.pipelinerun import PipelineRun, PipelineRunSpec, PipelineRunStatus
from bench import apiserver_requests, kube_floor, local_mode, stream_lag
from events.run import (
    ArtifactUploaded,
    LogShipped,
    RunAccepted,
    RunEvent,
    RunFinished,
    RunRequested,
    StepFinished,
    StepScheduled,
    StepStarted,
)
from ports.resources import KINDS
from projections import run_status
from steps.job_manifest import LABEL_RUN, PodTools, job_manifest
from steps.naming import job_name
from steps.plans import StepPlan, StepRef
from tests.support.dev_up import DevUp
from tests.support.git_daemon import GitDaemon, GitRepo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "controlplane"))
import plane  # noqa: E402

DEFAULT_BIN = "/root/.cache/c8s/controlplane/k8s-v1.37.2_etcd-v3.7.0_go1.26.8_3b60061d5be2"
TARGET = 64 * 1024
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
IN_FLIGHT = 16
NS = "bench"


# 1. Status size -----------------------------------------------------------------------------------


def history(run: str, steps: list[str], artifacts: list[str], bucket: str) -> list[RunEvent]:
    """Every event of a run whose steps all succeed, each uploading `artifacts`."""
    ids = {"namespace": "team-payments", "run": run, "uid": "3f2b8c1e-7a4d-4e9b-b1c2-8d6f0a9e5c3d"}
    spec = PipelineRunSpec(
        pipeline_config_ref="payments-api-ci", commit="9fceb02d0ae598e95dc970b74767f19372d61af8"
    )
    snapshot = PipelineConfigSpec(
        repository="https://github.com/acme/payments-api",
        steps=[Step(name=s, image="python:3.12-slim", commands=["make test"]) for s in steps],
    )
    at = iter(T0 + timedelta(seconds=i) for i in range(10_000))
    events: list[RunEvent] = [
        RunRequested(at=next(at), spec=spec, **ids),
        RunAccepted(at=next(at), config="payments-api-ci", snapshot=snapshot, **ids),
    ]
    for s in steps:
        job = job_name(run, s)
        base = f"{bucket}/{ids['namespace']}/{run}/{ids['uid']}/{s}"
        events += [
            StepScheduled(at=next(at), step=s, job_name=job, **ids),
            StepStarted(at=next(at), step=s, job_name=job, pod=f"{job}-x7k2p", **ids),
            StepFinished(at=next(at), step=s, exit_code=0, **ids),
            LogShipped(at=next(at), step=s, url=f"{base}.log", bytes=48_213, **ids),
        ]
        events += [
            ArtifactUploaded(at=next(at), step=s, url=f"{base}/artifacts/{a}", path=a, **ids)
            for a in artifacts
        ]
    events.append(
        RunFinished(at=next(at), config="payments-api-ci", phase="Succeeded", reason="Succeeded", **ids)
    )
    return events


def status_size(label: str, run: str, steps: list[str], artifacts: list[str], bucket: str) -> None:
    events = history(run, steps, artifacts, bucket)
    status = run_status.fold(enumerate(events, start=1))
    encoded = msgspec.json.encode(status)
    run_object = PipelineRun(
        metadata=ObjectMeta(name=run, namespace="team-payments"),
        spec=PipelineRunSpec(
            pipeline_config_ref="payments-api-ci", commit="9fceb02d0ae598e95dc970b74767f19372d61af8"
        ),
        status=status,
    )
    whole = len(msgspec.json.encode(run_object))
    ratio = len(encoded) / TARGET
    print(f"| {label:<44} | {len(steps):>5} | {len(encoded):>9,} | {whole:>9,} | {ratio:>6.2f} |", flush=True)


def status_sizes() -> None:
    print("| status of a finished run                     | steps |    status |    object | /64KiB |")
    print("|----------------------------------------------|------:|----------:|----------:|-------:|")
    run = "payments-api-ci-9fceb02-4e1f8a2b"
    realistic = [f"test-shard-{i:02d}" for i in range(50)]
    status_size(
        "realistic: 1 artifact per step", run, realistic, ["dist/report.xml"], "s3://acme-ci-logs/c8s"
    )
    long_run = "p" * 46 + "-9fceb02-4e1f8a2b"  # 63 characters, as run_name makes at most
    long_steps = [f"{'integration-tests-against-staging-database-shard':-<61}{i:02d}" for i in range(50)]
    paths = [
        f"build/reports/junit/{'TEST-com.acme.payments.integration.Suite':.<60}{k}.xml" for k in range(5)
    ]
    status_size(
        "limits: 63-char names, 5 artifacts per step", long_run, long_steps, paths, "s3://acme-ci-logs/c8s"
    )
    print()


# 2. Job creation ----------------------------------------------------------------------------------


def plans(run: PipelineRun, n: int) -> list[StepPlan]:
    uid = run.metadata.uid or ""
    return [
        StepPlan(
            ref=StepRef(
                namespace=NS,
                run=run.metadata.name,
                uid=uid,
                step=f"s{i}",
                job_name=f"{run.metadata.name}-s{i}",
            ),
            step=Step(name=f"s{i}", image="alpine:3.20", commands=["true"]),
            repository="https://github.com/acme/payments-api",
            commit="9fceb02d0ae598e95dc970b74767f19372d61af8",
            branch="main",
            auth_secret_ref=None,
            env={},
            secrets=[],
            timeout_seconds=600,
        )
        for i in range(n)
    ]


async def bounded(work: list[Coroutine[Any, Any, object]]) -> float:
    """Calls/s of awaiting `work`, IN_FLIGHT at a time (the body is built before the clock starts)."""
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(call: Coroutine[Any, Any, object]) -> None:
        async with slots:
            await call

    start = time.perf_counter()
    await asyncio.gather(*(one(c) for c in work))
    return len(work) / (time.perf_counter() - start)


async def job_rates(store: KubeStore, api: client.ApiClient, kubeconfig: str, n: int, rounds: int) -> float:
    """Prints adapter vs raw Jobs/s; returns the raw rate (the apiserver's ceiling)."""
    executor = KubeExecutor(KubeConnection(kubeconfig), PodTools())
    batch = client.BatchV1Api(api)
    rates: dict[str, list[float]] = {"adapter": [], "raw": []}
    for r in range(rounds):
        for kind in ("adapter", "raw") if r % 2 == 0 else ("raw", "adapter"):
            run = await store.create(
                PipelineRun(metadata=ObjectMeta(name=f"jobs-{kind}-{r}", namespace=NS), spec=SPEC)
            )
            ps = plans(run, n)
            if kind == "adapter":
                work = [executor.start(p) for p in ps]
            else:
                work = [batch.create_namespaced_job(NS, job_manifest(p, PodTools())) for p in ps]
            rates[kind].append(await bounded(work))
    await executor.connection.close()
    a, b = statistics.median(rates["adapter"]), statistics.median(rates["raw"])
    ratio = statistics.median(x / y for x, y in zip(rates["adapter"], rates["raw"], strict=True))
    label = "Job create (full step Job body)"
    print(f"| {label:<36} | {n:>5} x {rounds} | {a:>8.1f} | {b:>8.1f} | {ratio:>5.2f} |")
    return b


SPEC = PipelineRunSpec(
    pipeline_config_ref="payments-api-ci", commit="9fceb02d0ae598e95dc970b74767f19372d61af8"
)


# 3. Status write -> watch -------------------------------------------------------------------------


def statuses(n: int) -> list[PipelineRunStatus]:
    """The first n successive statuses of a run (each event changes it)."""
    events = history("x", [f"s{i}" for i in range(n)], [], "s3://b")
    found, status = [], run_status.initial()
    for seq, event in enumerate(events[:n], start=1):
        status = run_status.evolve(status, seq, event)
        found.append(status)
    return found


class Seen:
    def __init__(self) -> None:
        self.at: dict[tuple[str, int], float] = {}
        self.changed = asyncio.Event()

    async def follow(self, store: KubeStore) -> None:
        async for change in store.watch(PipelineRun, NS):
            obj = change.object
            if isinstance(obj, PipelineRun) and obj.status is not None:
                self.at.setdefault((obj.metadata.name, obj.status.observed_sequence), time.time())
                self.changed.set()

    async def wait(self, key: tuple[str, int]) -> float:
        async with asyncio.timeout(30):
            while key not in self.at:
                self.changed.clear()
                await self.changed.wait()
        return self.at[key]


async def status_lags(store: KubeStore, api: client.ApiClient, writes: int, rounds: int) -> None:
    custom = client.CustomObjectsApi(api)
    seen = Seen()
    watching = asyncio.create_task(seen.follow(store))
    lags: dict[str, list[float]] = {"adapter": [], "raw": []}
    calls: dict[str, list[float]] = {"adapter": [], "raw": []}
    for r in range(rounds):
        for kind in ("adapter", "raw") if r % 2 == 0 else ("raw", "adapter"):
            name = f"status-{kind}-{r}"
            await store.create(PipelineRun(metadata=ObjectMeta(name=name, namespace=NS), spec=SPEC))
            for status in statuses(writes):
                at = time.time()
                if kind == "adapter":
                    await store.patch_status(PipelineRun, NS, name, status)
                else:
                    body = {"status": msgspec.to_builtins(status)}
                    await custom.patch_namespaced_custom_object_status(
                        "c8s.dev",
                        "v1alpha1",
                        NS,
                        "pipelineruns",
                        name,
                        body,
                        _content_type="application/merge-patch+json",
                    )
                calls[kind].append(time.time() - at)
                lags[kind].append(await seen.wait((name, status.observed_sequence)) - at)
    watching.cancel()
    for label, measured in (("status write call", calls), ("status write -> watch", lags)):
        p50s = {}
        for kind, values in measured.items():
            ordered = sorted(values)
            p50, p99 = ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000
            p50s[kind] = p50
            print(f"| {label}, {kind:<8} | {len(values):>5} | {p50:>8.1f} | {p99:>8.1f} |")
        print(f"| {label}, p50 adapter/raw | | {p50s['adapter'] / p50s['raw']:.2f} | |")


# 4. c8s dev up --kubeconfig: webhook -> Jobs -> status ------------------------------------------------


class FirstJobs:
    """When a watch of the default namespace first saw a Job of each run (label c8s.dev/run)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def follow(self, api: client.ApiClient) -> None:
        batch = client.BatchV1Api(api)
        async with watch.Watch() as w:
            stream = w.stream(
                batch.list_namespaced_job, "default", label_selector=LABEL_RUN, timeout_seconds=3600
            )
            async for event in stream:
                self.at.setdefault(event["object"].metadata.labels[LABEL_RUN], time.time())
                self.changed.set()

    async def wait(self, run: str) -> float:
        async with asyncio.timeout(120):
            while run not in self.at:
                self.changed.clear()
                await self.changed.wait()
        return self.at[run]


async def end_to_end(
    p: plane.Plane, store: KubeStore, api: client.ApiClient, tmp: Path, args: argparse.Namespace
) -> float:
    """Webhook -> first Job -> terminal status through `c8s dev up --kubeconfig`; returns runs/s.

    StepStarted.at is not used here: in Kubernetes mode it is the container's startedAt, which the
    apiserver keeps to the second (it can precede the POST). For the same reason projector lag is
    measured from each event's stored time in the stream (bench/stream_lag.py), with the lag from
    `at` beside it, split by event type. The services' logs are copied to
    `--keep-logs` so an outlier of the sequential series can be read afterwards."""
    n, burst = args.runs, args.burst
    repo = GitRepo.create(tmp / "repos" / "app.git")
    commit = repo.commit({"README": "bench\n"}, "first")
    with GitDaemon(tmp / "repos") as daemon, DevUp(tmp / "c8s", "--kubeconfig", str(p.kubeconfig)) as dev:
        dev.wait_for(r"^c8s is up$", deadline=180)
        for doc in local_mode.manifests(daemon.url("app.git")):
            await store.apply(msgspec.convert(doc, KINDS[str(doc["kind"])]))
        cli = dev.cli_env()
        settings = BusSettings(
            servers=[f"nats://127.0.0.1:{dev.nats_port}"],
            name="c8s-bench",
            user=cli["C8S_NATS_USER"],
            password=cli["C8S_NATS_PASSWORD"],
        )
        conn = NatsConnection(settings)
        await conn.connect()
        jobs, statuses = FirstJobs(), local_mode.Statuses()
        watching = [asyncio.create_task(jobs.follow(api)), asyncio.create_task(statuses.follow(store))]
        async with aiohttp.ClientSession() as session:
            bench = local_mode.Bench(f"http://127.0.0.1:{dev.webhook_port}/webhooks", commit, session)
            found: dict[str, list[float]] = {"job": [], "finished": []}
            for _ in range(n):
                sent, _, name = await bench.post()
                await statuses.wait_terminal([name])
                found["job"].append(await jobs.wait(name) - sent)
                found["finished"].append(statuses.terminal[name] - sent)
                bench.names.append(name)
            served = await apiserver_requests.counts(api)
            rate, burst_names = await local_mode.at_once(bench, statuses, burst)
            apiserver_requests.report(f"the burst of {burst}", served, await apiserver_requests.counts(api))
        lag_one = await stream_lag.lags(conn, statuses, bench.names)
        lag_burst = await stream_lag.lags(conn, statuses, burst_names)
        for task in watching:
            task.cancel()
        await conn.close()
        dev.stop()
        if args.keep_logs:
            shutil.copytree(tmp / "c8s" / "logs", args.keep_logs, dirs_exist_ok=True)
    print(f"{local_mode.HEADER}\n{local_mode.RULE}")
    local_mode.row("webhook POST -> first Job seen (watch)", found["job"])
    local_mode.row("webhook POST -> run terminal (watched)", found["finished"])
    local_mode.row("projector lag, one at a time, stored", lag_one.all("stored"))
    local_mode.row("projector lag, one at a time, `at`", lag_one.all("at"))
    local_mode.row(f"projector lag, {burst} at once, stored", lag_burst.all("stored"))
    local_mode.row(f"projector lag, {burst} at once, `at`", lag_burst.all("at"))
    stream_lag.table("one run at a time", lag_one)
    stream_lag.table(f"{burst} runs at once", lag_burst)
    print(f"\nsustained: {burst} runs x 3 steps: {rate:.2f} runs/s ({3 * rate:.1f} Jobs/s)")
    outliers(bench.names[:n], found["finished"], args.keep_logs)
    return rate


def outliers(names: list[str], seconds: list[float], logs: str) -> None:
    """The sequential series' slowest run against its median (the stall: a ratio, not a limit)."""
    median = statistics.median(seconds)
    slowest = max(range(len(seconds)), key=seconds.__getitem__)
    print(
        f"sequential series of {len(seconds)}: slowest/median {seconds[slowest] / median:.2f} "
        f"({names[slowest]}: {seconds[slowest]:.2f} s vs median {median:.2f} s); "
        f"runs over 3x the median: {sum(s > 3 * median for s in seconds)}"
        + (f"; service logs kept in {logs}" if logs else "")
    )


# Main ---------------------------------------------------------------------------------------------


def install_crds(p: plane.Plane) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "KUBECONFIG": str(p.kubeconfig), "HOME": str(p.directory)}
    crds = str(ROOT / "deploy" / "300-crds")
    subprocess.run([str(p.kubectl), "apply", "-f", crds], env=env, check=True, capture_output=True)
    wait = [str(p.kubectl), "wait", "--for=condition=Established", "--timeout=60s", "-f", crds]
    subprocess.run(wait, env=env, check=True, capture_output=True)


async def namespace(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": NS}})
    quota = {"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}}
    await core.create_namespaced_resource_quota(NS, quota)


async def on_cluster(tmp: Path, args: argparse.Namespace) -> None:
    os.environ.setdefault("C8S_CONTROLPLANE_BIN", DEFAULT_BIN)
    async with plane.running(tmp / "plane", plane.find_binaries()) as p:
        print(f"control plane ready in {p.started_in:.1f}s ({p.server}); load average {loadavg()}")
        install_crds(p)
        api = await config.new_client_from_config(config_file=str(p.kubeconfig))
        store = await KubeStore.connect(KubeSettings(kubeconfig=str(p.kubeconfig)))
        await namespace(api)
        print("\n| measure                              |  jobs x rounds | adapter/s |   raw/s | ratio |")
        print("|--------------------------------------|---------------:|---------:|---------:|------:|")
        ceiling = await job_rates(store, api, str(p.kubeconfig), args.jobs, args.rounds)
        print("\n| measure                          |     n |  p50 ms |  p99 ms |")
        print("|----------------------------------|------:|--------:|--------:|")
        await status_lags(store, api, args.writes, args.rounds)
        if args.runs:
            floor_rate, chains = await kube_floor.floor(api, "floor", args.burst)
            print(
                f"\nraw chained Jobs ({kube_floor.STEPS} per chain, {args.burst} chains at once): "
                f"{floor_rate:.2f} chains/s; chain p50 {statistics.median(chains):.2f} s, "
                f"max {max(chains):.2f} s"
            )
            print(f"\nc8s dev up --kubeconfig (load average {loadavg()}):")
            rate = await end_to_end(p, store, api, tmp, args)
            print(f"raw Job create: {ceiling:.1f} Jobs/s; ratio c8s Jobs/s / raw {3 * rate / ceiling:.3f}")
            print(
                f"raw chained Jobs: {floor_rate:.2f} runs/s; "
                f"ratio c8s runs/s / raw chains {rate / floor_rate:.3f}"
            )
        await store.close()
        await api.close()


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main(args: argparse.Namespace) -> None:
    print(f"load average before: {loadavg()}\n", flush=True)
    status_sizes()
    if not args.size_only:
        with tempfile.TemporaryDirectory() as name:
            await on_cluster(Path(name), args)
    print(f"\nload average after: {loadavg()}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=150, help="Jobs created per round and kind")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--writes", type=int, default=50, help="status writes per round and kind")
    parser.add_argument("--runs", type=int, default=20, help="webhooks one at a time via dev up (0: skip)")
    parser.add_argument("--burst", type=int, default=20, help="webhooks at once via dev up")
    parser.add_argument("--keep-logs", default="", help="copy dev up's service logs to this directory")
    parser.add_argument("--size-only", action="store_true", help="only the status size (no cluster)")
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
