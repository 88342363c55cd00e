"""Kubernetes mode: the status object of a 50-step run, and the adapters against the real control plane.

1. Status size (no cluster): the PipelineRunStatus a 50-step run ends with, built by folding the
   run's whole history through projections.run_status.fold (per step: scheduled, started, finished,
   log shipped to s3://, artifacts uploaded), encoded with msgspec JSON as the projector writes it;
   bytes vs the 64 KiB target, for realistic names and for names at their limits.
2. Job creation (real control plane from tests/controlplane, started here in a temp dir with free
   ports, stopped at the end): the scheduler's executor (adapters.kube_jobs.KubeExecutor.start, the
   full Job body of projections.job_manifest) vs kubernetes_asyncio creating the same bodies
   directly, the same number in flight; Jobs/s and the ratio. The namespace has a ResourceQuota of
   0 pods, so the job controller creates no pods and the node agent stays idle.
3. Status write -> seen by a watch: adapters.kube_store.KubeStore.patch_status (what the projector
   calls) vs a raw merge patch of the status subresource, the same statuses, each awaited on one
   watch before the next; p50/p99 of (seen - the event's `at`).

Rounds alternate adapter and raw. Prints figures and ratios; asserts nothing about time.
Run: .venv/bin/python -m bench.kube_mode [--jobs N] [--rounds R] [--writes W]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from kubernetes_asyncio import client, config

from adapters.kube_client import KubeSettings
from adapters.kube_connection import KubeConnection
from adapters.kube_jobs import KubeExecutor
from adapters.kube_store import KubeStore
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfigSpec, Step
from api.pipelinerun import PipelineRun, PipelineRunSpec, PipelineRunStatus
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
from projections import run_status
from projections.job_manifest import PodTools, job_manifest
from projections.naming import job_name
from projections.run_context import StepPlan, StepRef

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


async def job_rates(store: KubeStore, api: client.ApiClient, kubeconfig: str, n: int, rounds: int) -> None:
    executor = KubeExecutor(KubeConnection(kubeconfig), PodTools(), {})
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
                lags[kind].append(await seen.wait((name, status.observed_sequence)) - at)
    watching.cancel()
    for kind, values in lags.items():
        ordered = sorted(values)
        p50, p99 = ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000
        print(f"| status write -> watch, {kind:<8} | {len(values):>5} | {p50:>8.1f} | {p99:>8.1f} |")


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


async def on_cluster(tmp: Path, jobs: int, rounds: int, writes: int) -> None:
    os.environ.setdefault("C8S_CONTROLPLANE_BIN", DEFAULT_BIN)
    async with plane.running(tmp / "plane", plane.find_binaries()) as p:
        print(f"control plane ready in {p.started_in:.1f}s ({p.server}); load average {loadavg()}")
        install_crds(p)
        api = await config.new_client_from_config(config_file=str(p.kubeconfig))
        store = await KubeStore.connect(KubeSettings(kubeconfig=str(p.kubeconfig)))
        await namespace(api)
        print("\n| measure                              |  jobs x rounds | adapter/s |   raw/s | ratio |")
        print("|--------------------------------------|---------------:|---------:|---------:|------:|")
        await job_rates(store, api, str(p.kubeconfig), jobs, rounds)
        print("\n| measure                          |     n |  p50 ms |  p99 ms |")
        print("|----------------------------------|------:|--------:|--------:|")
        await status_lags(store, api, writes, rounds)
        await store.close()
        await api.close()


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main(jobs: int, rounds: int, writes: int, size_only: bool) -> None:
    print(f"load average before: {loadavg()}\n", flush=True)
    status_sizes()
    if not size_only:
        with tempfile.TemporaryDirectory() as name:
            await on_cluster(Path(name), jobs, rounds, writes)
    print(f"\nload average after: {loadavg()}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=150, help="Jobs created per round and kind")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--writes", type=int, default=50, help="status writes per round and kind")
    parser.add_argument("--size-only", action="store_true", help="only the status size (no cluster)")
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.rounds, args.writes, args.size_only))


if __name__ == "__main__":
    cli()
