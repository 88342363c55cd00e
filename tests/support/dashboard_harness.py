"""A dashboard wired to real parts for integration tests: a real nats-server (bus, KV resource
store, live log lines on core NATS), a file:// object store in a temp dir, the aiohttp app on a
loopback socket (port 0), and helpers to create runs, give them status, events, logs and artifacts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from adapters import wiring
from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from adapters.object_store import FsspecObjectStore
from adapters.runtime.tasks import stop_task
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig, PipelineConfigSpec, Step
from api.pipelinerun import PipelineRun, PipelineRunSpec, PipelineRunStatus
from events import run as ev
from services.dashboard.actions import Csrf
from services.dashboard.context import Context
from services.dashboard.http import make_app
from services.dashboard.live import RunFeed
from services.dashboard.reading import Reader
from services.dashboard.service import start
from steps.plans import StepRef
from tests.integration.conftest import bus_settings

NS = "team-a"
T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
STEPS = [
    Step(name="build", image="alpine", commands=["make"]),
    Step(name="test", image="alpine", commands=["make test"], depends_on=["build"]),
]


class Dashboard:
    def __init__(self, server: NatsServer, objects_dir: Path) -> None:
        self.server, self.objects_dir = server, objects_dir
        self.csrf = Csrf(b"k" * 32)

    async def open(self) -> None:
        self.bus = await NatsBus.connect(bus_settings(self.server))
        await self.bus.ensure_streams()
        self.store = KvStore.from_connection(self.bus.connection)
        await self.store.ensure_buckets()
        self.objects = FsspecObjectStore(self.objects_dir.as_uri())
        self.live = wiring.live_log(self.bus)
        self.feed = RunFeed(self.store)
        reader = Reader(self.store, self.bus, self.objects, lambda: datetime.now(UTC))
        ctx = Context(reader, self.feed, lambda ns, run: wiring.live_lines(self.bus, ns, run), self.csrf)
        self._follower = asyncio.create_task(self.feed.follow())
        self.runner, self.url = await start(make_app(ctx, lambda: True), "127.0.0.1", 0)
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.session.close()
        await self.runner.cleanup()
        await stop_task(self._follower)
        await self.bus.close()

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.url + path, allow_redirects=False) as response:
            return response.status, await response.text()

    async def config(self, name: str = "app-ci") -> PipelineConfig:
        spec = PipelineConfigSpec(repository="https://github.com/org/app", steps=STEPS)
        return await self.store.create(
            PipelineConfig(metadata=ObjectMeta(namespace=NS, name=name), spec=spec)
        )

    async def run(self, name: str, branch: str = "main", **status: object) -> PipelineRun:
        spec = PipelineRunSpec(pipeline_config_ref="app-ci", commit="abcdef1", branch=branch, triggered_at=T0)
        run = await self.store.create(PipelineRun(metadata=ObjectMeta(namespace=NS, name=name), spec=spec))
        if status:
            await self.status(run, **status)
        return run

    async def status(self, run: PipelineRun, seq: int = 1, **fields: object) -> None:
        status = PipelineRunStatus(observed_sequence=seq, **fields)  # type: ignore[arg-type]
        await self.store.patch_status(PipelineRun, NS, run.metadata.name, status, uid=run.metadata.uid)

    async def accepted(self, run: PipelineRun) -> None:
        ident = {"namespace": NS, "run": run.metadata.name, "uid": run.metadata.uid, "at": T0}
        snapshot = PipelineConfigSpec(repository="https://github.com/org/app", steps=STEPS)
        await self.bus.publish_many(
            [
                ev.RunRequested(spec=run.spec, **ident),
                ev.RunAccepted(config="app-ci", snapshot=snapshot, **ident),
            ]
        )

    async def live_line(self, run: PipelineRun, step: str, line: bytes) -> None:
        ref = StepRef(namespace=NS, run=run.metadata.name, uid=run.metadata.uid, step=step, job_name="j")
        await self.live.publish(ref, line)


@contextlib.asynccontextmanager
async def dashboard(server: NatsServer, objects_dir: Path) -> AsyncIterator[Dashboard]:
    d = Dashboard(server, objects_dir)
    await d.open()
    try:
        yield d
    finally:
        await d.close()


async def sse(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, str]]:
    """(event, data) of each server-sent event on an open response, until it ends."""
    event, data = "message", ""
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif not line and data:
            yield event, data
            event, data = "message", ""
