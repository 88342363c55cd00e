"""Resident memory of every local-mode service with N active runs (issue 14: 1,000, <= 150 MB each).

A real `c8s dev up` and `git daemon` as in bench.local_mode; a PipelineConfig whose first step
waits for a gate file (so runs stay active: 4 steps run, the other runs' steps wait for a slot),
then N signed push webhooks (20 in flight). Progress (runs Running, seconds since the first POST)
is printed as it grows, so the time to reach any N Running can be read. Once every run is
Running in the store (or the deadline passes), each process's CPU use is sampled over an idle
window (--idle s: the cost of holding that many active runs with nothing new arriving), then its
VmRSS and VmHWM (peak) are read from /proc (the pids `c8s dev up` prints; restarts are counted
from its output). The gate is then opened and dev up stopped. The runner's slot-wait hand back is
set to 60 s (C8S_BUSY_RETRY_SECONDS; --busy-retry, the product's default is 1 s) so the
measurement is not dominated by redelivery churn.
Prints figures; asserts nothing.
Run: .venv/bin/python -m bench.rss [--runs 1000] [--deadline S] [--idle S] [--busy-retry S] [--logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

import aiohttp

from api.pipelinerun import PipelineRun
from bench.local_mode import KEY, NS, REPOSITORY, Bench, Client, loadavg
from tests.e2e.local import connection, pipeline, secret, step
from tests.support.dev_up import RESTARTED, DevUp
from tests.support.git_daemon import GitDaemon, GitRepo


def manifests(url: str, gate: Path) -> list[dict[str, object]]:
    waiting = step("wait", f"while [ ! -f {gate} ]; do sleep 1; done")
    return [
        secret("hook", **{"webhook-secret": KEY.decode()}),
        pipeline("gated", url, [waiting, step("after", "true", dependsOn=["wait"])], cancelSuperseded=False),
        connection("gh", "github", REPOSITORY, "gated", "hook"),
    ]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (None: it has exited, e.g. restarted)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def running(c8s: Client, runs: int, began: float, deadline: float) -> int:
    """Runs Running once all are or at the deadline; prints each further tenth of `runs` reached."""
    end, step, shown = began + deadline, max(1, runs // 10), 0
    while True:
        phases = [r.status.phase if r.status else None for r in await c8s.store.list(PipelineRun, NS)]
        active = phases.count("Running")
        if active // step > shown:
            shown = active // step
            took = time.monotonic() - began
            print(f"  {active} Running, {len(phases)} created, at {took:.0f} s", flush=True)
        if active >= runs or time.monotonic() > end:
            return active
        await asyncio.sleep(2)


async def report(dev: DevUp, idle: float) -> None:
    """Each process's CPU % over `idle` seconds, then its VmRSS and VmHWM; the restarts seen."""
    pids = sorted(dev.pids().items())
    spent = [cpu_seconds(pid) for _, pid in pids]
    await asyncio.sleep(idle)
    print(f"| process | VmRSS MiB | VmHWM (peak) MiB | CPU % over {idle:.0f} s idle |")
    print("|---|---:|---:|---:|")
    dev.drain()
    for (service, pid), before in zip(pids, spent, strict=True):
        after = cpu_seconds(pid)
        if before is None or after is None:
            print(f"| {service} | exited (pid {pid}) | | |")
            continue
        rss, peak = memory(pid)
        print(f"| {service} | {rss:.0f} | {peak:.0f} | {100 * (after - before) / idle:.0f} |")
    restarts = [line for line in dev.lines if RESTARTED.match(line)]
    print(f"restarts: {len(restarts)}", *restarts, sep="\n  ")


async def main(runs: int, deadline: float, idle: float, busy_retry: float, logs: Path | None) -> None:
    print(f"load average before: {loadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        repo = GitRepo.create(tmp / "repos" / "app.git")
        commit = repo.commit({"README": "bench\n"}, "first")
        env = {"C8S_BUSY_RETRY_SECONDS": str(busy_retry)}
        with GitDaemon(tmp / "repos") as daemon, DevUp(tmp / "c8s", env=env) as dev:
            dev.wait_for(r"^c8s is up$", deadline=120)
            c8s = await Client.connect(f"nats://127.0.0.1:{dev.nats_port}", dev.cli_env())
            await c8s.apply(manifests(daemon.url("app.git"), tmp / "gate"))
            began = time.monotonic()
            async with aiohttp.ClientSession() as session:
                await fire(Bench(f"http://127.0.0.1:{dev.webhook_port}/webhooks", commit, session), runs)
            fired = time.monotonic() - began
            active = await running(c8s, runs, began, deadline)
            dev.drain()
            took = time.monotonic() - began
            print(f"{runs} webhooks in {fired:.0f} s; {active} runs Running after {took:.0f} s")
            await report(dev, idle)
            (tmp / "gate").touch()
            await c8s.conn.close()
            dev.stop()
            if logs is not None:
                shutil.copytree(tmp / "c8s" / "logs", logs, dirs_exist_ok=True)
    print(f"load average after: {loadavg()}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--deadline", type=float, default=600, help="seconds to wait for every run Running")
    parser.add_argument("--idle", type=float, default=20, help="seconds of CPU sampling once Running")
    parser.add_argument("--busy-retry", type=float, default=60, help="the runner's C8S_BUSY_RETRY_SECONDS")
    parser.add_argument("--logs", type=Path, help="copy the dev dir's logs (every service's) here")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.deadline, args.idle, args.busy_retry, args.logs))


if __name__ == "__main__":
    cli()
