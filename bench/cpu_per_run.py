"""CPU per run of every local-mode process: where a run's CPU goes, the thing that sets latency and
runs/s once the machine's CPUs are busy (bench/README.md, "Local mode end to end").

A real `c8s dev up`, a repository served by `git daemon`, bench/local_mode.py's 3-step no-op
pipeline; N webhooks one at a time (the next once the previous run is terminal). Each process's
utime + stime, its reaped children's included (/proc/<pid>/stat), read before and after, divided
by N. Children not reaped by the service are not counted (a step's shim, detached or a spare's
child; the steps' `true`). Beside it, the client-side CPU of one raw step (git clone + checkout +
sh -c true, this process's children). Prints figures; asserts nothing.
Run: .venv/bin/python -m bench.cpu_per_run [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
from pathlib import Path

import aiohttp

from bench.local_mode import Bench, Statuses, instance, loadavg, raw_step

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of `pid`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def main(n: int) -> None:
    print(f"load average before: {loadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        async with instance(tmp) as it:
            before_raw = children_cpu()
            for i in range(5):
                await raw_step(it.url, it.commit, tmp / f"raw-{i}")
            raw = (children_cpu() - before_raw) / 5
            it.dev.drain()
            pids = it.dev.pids()
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            async with aiohttp.ClientSession() as session:
                statuses = Statuses()
                watching = asyncio.create_task(statuses.follow(it.c8s.store))
                bench = Bench(f"http://127.0.0.1:{it.dev.webhook_port}/webhooks", it.commit, session)
                for _ in range(n):
                    _, _, run = await bench.post()
                    await statuses.wait_terminal([run])
                watching.cancel()
            used = {name: (cpu_seconds(pid) - before[name]) / n for name, pid in pids.items()}
    print(f"| process | CPU ms per 3-step run ({n} runs) |\n|---|---:|")
    for name, seconds in sorted(used.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {seconds * 1000:.1f} |")
    print(f"| (one raw step: git clone + checkout + sh, client side) | {raw * 1000:.1f} |")
    print(f"load average after: {loadavg()}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    asyncio.run(main(parser.parse_args().runs))


if __name__ == "__main__":
    cli()
