"""A webhook receiver wired to a real nats-server for integration tests: the NATS bus, the KV
resource store and delivery log, the watched connection index, and the aiohttp app on a real
loopback socket (port 0), with a client session and helpers to apply manifests and read results."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.deliveries import KvDeliveryLog
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from api.meta import ObjectMeta
from api.pipelineconfig import Matrix, PipelineConfig, PipelineConfigSpec, Step
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionSpec
from api.secret import Secret
from events.webhook import WebhookAccepted, WebhookRejected
from services.webhook.handling import Webhooks
from services.webhook.http import Limits, make_app, start
from services.webhook.service import WatchedConnections, stop_task
from tests.integration.conftest import bus_settings

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
MiB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += timedelta(hours=hours)


class Harness:
    """One receiver; `restart()` replaces the process (new index, app and socket, same NATS)."""

    def __init__(self, server: NatsServer, limits: Limits) -> None:
        self.server, self.limits, self.clock = server, limits, Clock()
        self._tasks: list[asyncio.Task[None]] = []
        self._runners: list[web.AppRunner] = []

    async def open(self) -> None:
        self.bus = await NatsBus.connect(bus_settings(self.server))
        await self.bus.ensure_streams()
        self.store = KvStore.from_connection(self.bus.connection)
        await self.store.ensure_buckets()
        self.deliveries = await KvDeliveryLog.open(self.bus.connection, ttl_seconds=3600.0)
        self.session = aiohttp.ClientSession()
        await self.restart()

    async def restart(self) -> None:
        self.connections = WatchedConnections(self.store)
        self._tasks.append(asyncio.create_task(self.connections.follow()))
        webhooks = Webhooks(self.store, self.bus, self.deliveries, self.connections, self.clock)
        self.webhooks = webhooks
        self.app = app = make_app(webhooks, self.connections.ready.is_set, self.limits)
        runner, self.url = await start(app, "127.0.0.1", 0)
        self._runners.append(runner)
        await asyncio.wait_for(self.connections.ready.wait(), 10)

    async def close(self) -> None:
        for task in self._tasks:
            await stop_task(task)
        for runner in self._runners:
            await runner.cleanup()
        await self.session.close()
        await self.bus.close()

    async def post(self, provider: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        async with self.session.post(f"{self.url}/webhooks/{provider}", headers=headers, data=body) as resp:
            return resp.status, await resp.json()

    async def runs(self, namespace: str | None = None) -> list[PipelineRun]:
        return await self.store.list(PipelineRun, namespace)

    async def events(self) -> list[WebhookAccepted | WebhookRejected]:
        received = await self.bus.history("c8s.webhook.>")
        return [r.event for r in received if isinstance(r.event, WebhookAccepted | WebhookRejected)]

    async def connect_repo(
        self,
        provider: str,
        repository: str,
        secret: str | None = "s3cret",
        *,
        ns: str = "team-a",
        name: str = "app",
        config: str | None = "app-ci",
        branches: list[str] | None = None,
        matrix: Matrix | None = None,
    ) -> None:
        """Apply a Secret, a PipelineConfig and a RepositoryConnection (each only when named)."""
        meta = ObjectMeta(name=f"{name}-webhook", namespace=ns)
        if secret is not None:
            await self.store.apply(Secret(metadata=meta, string_data={"webhook-secret": secret}))
        if config is not None:
            await self.store.apply(pipeline_config(config, ns, repository, branches, matrix))
        spec = RepositoryConnectionSpec(
            repository=repository,
            provider=provider,  # type: ignore[arg-type]
            webhook_secret_ref=meta.name if secret is not None else None,
            pipeline_config_ref=config,
        )
        await self.store.apply(RepositoryConnection(metadata=ObjectMeta(name=name, namespace=ns), spec=spec))


def pipeline_config(
    name: str, ns: str, repository: str, branches: list[str] | None, matrix: Matrix | None
) -> PipelineConfig:
    spec = PipelineConfigSpec(
        repository=repository,
        branches=branches or ["**"],
        steps=[Step(name="test", image="alpine", commands=["true"])],
        matrix=matrix,
    )
    return PipelineConfig(metadata=ObjectMeta(name=name, namespace=ns), spec=spec)


@contextlib.asynccontextmanager
async def harness(server: NatsServer, limits: Limits | None = None) -> AsyncIterator[Harness]:
    h = Harness(server, limits or Limits(max_body_bytes=25 * MiB, deadline_seconds=8.0))
    await h.open()
    try:
        yield h
    finally:
        await h.close()
