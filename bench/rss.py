"""Resident memory of every local-mode service with N active runs (issue 14: 1,000, <= 150 MB each).

A real `c8s dev up` and `git daemon` as in bench.local_mode; a PipelineConfig whose first step
waits for a gate file (so runs stay active: 4 steps run, the other runs' steps wait for a slot),
then N signed push webhooks (20 in flight). Once every run is accepted and Running in the store
(or the deadline passes), each service's VmRSS and VmHWM (peak) are read from /proc (the pids
`c8s dev up` prints). The gate is then opened and dev up stopped. The runner's slot-wait hand
back is set to 60 s (C8S_BUSY_RETRY_SECONDS) so the measurement is not dominated by redelivery
churn. Prints figures; asserts nothing.
Run: .venv/bin/python -m bench.rss [--runs 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp

from api.pipelinerun import PipelineRun
from bench.local_mode import KEY, NS, REPOSITORY, Bench, Client, loadavg
from tests.e2e.local import connection, pipeline, secret, step
from tests.support.dev_up import DevUp
from tests.support.git_daemon import GitDaemon, GitRepo


def manifests(url: str, gate: Path) -> list[dict[str, object]]:
    waiting = step("wait", f"while [ ! -f {gate} ]; do sleep 1; done")
    return [
        secret("hook", **{"webhook-secret": KEY.decode()}),
        pipeline("gated", url, [waiting, step("after", "true", dependsOn=["wait"])], cancelSuperseded=False),
        connection("gh", "github", REPOSITORY, "gated", "hook"),
    ]


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def fire(bench: Bench, runs: int) -> None:
    queue = iter(range(runs))

    async def worker() -> None:
        for _ in queue:
            await bench.post()

    await asyncio.gather(*(worker() for _ in range(20)))


async def running(c8s: Client, runs: int, deadline: float) -> int:
    end = time.monotonic() + deadline
    while True:
        active = [
            r for r in await c8s.store.list(PipelineRun, NS) if r.status and r.status.phase == "Running"
        ]
        if len(active) >= runs or time.monotonic() > end:
            return len(active)
        await asyncio.sleep(2)


async def main(runs: int, deadline: float) -> None:
    print(f"load average before: {loadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        repo = GitRepo.create(tmp / "repos" / "app.git")
        commit = repo.commit({"README": "bench\n"}, "first")
        env = {"C8S_BUSY_RETRY_SECONDS": "60"}
        with GitDaemon(tmp / "repos") as daemon, DevUp(tmp / "c8s", env=env) as dev:
            dev.wait_for(r"^c8s is up$", deadline=120)
            c8s = await Client.connect(f"nats://127.0.0.1:{dev.nats_port}", dev.cli_env())
            await c8s.apply(manifests(daemon.url("app.git"), tmp / "gate"))
            began = time.monotonic()
            async with aiohttp.ClientSession() as session:
                await fire(Bench(f"http://127.0.0.1:{dev.webhook_port}/webhooks", commit, session), runs)
            fired = time.monotonic() - began
            active = await running(c8s, runs, deadline)
            dev.drain()
            took = time.monotonic() - began
            print(f"{runs} webhooks in {fired:.0f} s; {active} runs Running after {took:.0f} s")
            print("| service | VmRSS MiB | VmHWM (peak) MiB |\n|---|---:|---:|")
            for service, pid in sorted(dev.pids().items()):
                rss, peak = memory(pid)
                print(f"| {service} | {rss:.0f} | {peak:.0f} |")
            (tmp / "gate").touch()
            await c8s.conn.close()
            dev.stop()
    print(f"load average after: {loadavg()}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--deadline", type=float, default=600, help="seconds to wait for every run Running")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.deadline))


if __name__ == "__main__":
    cli()
