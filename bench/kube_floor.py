"""The raw chained-Jobs floor of Kubernetes mode, and the pieces bench/peer.py shares with it.

The floor is the least any controller can do for the bench pipeline's 3-step chain: create the
Job of step 1, watch until it completes, create step 2, and so on; no bus, no status, no logs. It
runs on the same control plane and node (the test node agent) as c8s in bench/kube_mode.py, at the
same burst, so c8s's runs/s can be given as a ratio of it in the same run (issue 14, item 4).

The floor's Jobs run `true` in one container; c8s's Jobs also clone the commit in an init
container, so the ratio includes the clone: that is part of what c8s does per step.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from kubernetes_asyncio import client, watch

STEPS = 3
LABEL = "bench.c8s.dev/chain"


@dataclass
class Completions:
    """Jobs of one namespace seen finished by a single watch, and waiters for them by name."""

    done: dict[str, asyncio.Future[bool]] = field(default_factory=dict)

    def future(self, name: str) -> asyncio.Future[bool]:
        return self.done.setdefault(name, asyncio.get_running_loop().create_future())

    async def follow(self, api: client.ApiClient, namespace: str) -> None:
        batch = client.BatchV1Api(api)
        async with watch.Watch() as w:
            stream = w.stream(
                batch.list_namespaced_job, namespace, label_selector=LABEL, timeout_seconds=3600
            )
            async for event in stream:
                job, status = event["object"], event["object"].status
                if status and (status.succeeded or status.failed):
                    waiter = self.future(job.metadata.name)
                    if not waiter.done():
                        waiter.set_result(bool(status.succeeded))


def job(name: str, chain: str) -> dict[str, object]:
    """A minimal Job: one container running `true`, no retries."""
    container = {"name": "step", "image": "busybox", "command": ["sh", "-c", "true"]}
    return {
        "metadata": {"name": name, "labels": {LABEL: chain}},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
        },
    }


async def chain(batch: client.BatchV1Api, seen: Completions, namespace: str, name: str) -> float:
    """Run one chain of STEPS Jobs, each created when the previous one completed; its seconds."""
    start = time.time()
    for step in range(STEPS):
        job_name = f"{name}-s{step}"
        waiter = seen.future(job_name)
        await batch.create_namespaced_job(namespace, job(job_name, name))
        async with asyncio.timeout(300):
            if not await waiter:
                raise RuntimeError(f"floor Job {namespace}/{job_name} failed")
    return time.time() - start


async def floor(api: client.ApiClient, namespace: str, burst: int) -> tuple[float, list[float]]:
    """Runs/s of `burst` raw chains started together (first create to last completion), and each
    chain's seconds. The namespace is created here and must not exist yet."""
    await client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    seen = Completions()
    following = asyncio.create_task(seen.follow(api, namespace))
    batch = client.BatchV1Api(api)
    try:
        start = time.time()
        seconds = await asyncio.gather(*(chain(batch, seen, namespace, f"chain-{i}") for i in range(burst)))
        return burst / (time.time() - start), list(seconds)
    finally:
        following.cancel()
