"""The webhook receiver process: its ports wired together, the connection index kept current, the
HTTP server run until the stop signal.

The index of RepositoryConnections is filled by a list at start-up (the receiver is ready once it
is) and kept current by the store's watch, re-opened after a failure. A lookup that finds nothing
for a provider lists the store once more before answering 404, so a connection applied a moment
before its first webhook (`c8s dev up --demo` does exactly that) is found; concurrent misses share
one list.
"""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web

from adapters.runtime.instruments import INSTRUMENTS
from adapters.runtime.tasks import stop_task
from api.repositoryconnection import RepositoryConnection
from ports.resources import ResourceStore, StoreError
from services.webhook.config import WebhookSettings
from services.webhook.http import Limits, start
from services.webhook.index import ConnectionIndex
from services.webhook.sampling import RejectionSampler

log = structlog.get_logger("c8s.webhook")
WATCH_RETRY_SECONDS = 1.0


class WatchedConnections:
    """The Connections port over an index that follows the store."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store
        self.index = ConnectionIndex()
        self.ready = asyncio.Event()
        self._fresh: asyncio.Task[ConnectionIndex] | None = None

    async def lookup(self, provider: str, keys: frozenset[str]) -> list[RepositoryConnection]:
        found = _of(provider, self.index.lookup(keys))
        if found:
            return found
        return _of(provider, (await self._listed()).lookup(keys))

    async def follow(self) -> None:
        """List, then apply every watch event; on a store failure wait and start over. Never returns."""
        while True:
            try:
                await self._follow_once()
            except StoreError as e:
                log.warning("webhook.watch_failed", error=str(e))
            await asyncio.sleep(WATCH_RETRY_SECONDS)

    async def _follow_once(self) -> None:
        listed = await self._store.list(RepositoryConnection)
        for connection in listed:
            self.index.upsert(connection)
        self.ready.set()
        async for event in self._store.watch(RepositoryConnection):
            self.index.apply(event)

    async def _listed(self) -> ConnectionIndex:
        if self._fresh is None or self._fresh.done():
            self._fresh = asyncio.create_task(self._list())
        return await asyncio.shield(self._fresh)

    async def _list(self) -> ConnectionIndex:
        return ConnectionIndex(await self._store.list(RepositoryConnection))


def _of(provider: str, connections: list[RepositoryConnection]) -> list[RepositoryConnection]:
    return [c for c in connections if c.spec.provider == provider]


def limits(settings: WebhookSettings) -> Limits:
    """The HTTP layer's bounds, from the settings."""
    return Limits(
        max_body_bytes=settings.max_body_bytes,
        deadline_seconds=settings.deadline_seconds,
        header_timeout_seconds=settings.header_timeout_seconds,
        body_timeout_seconds=settings.body_timeout_seconds,
        in_flight_bytes=settings.in_flight_bytes,
    )


def sampler(settings: WebhookSettings) -> RejectionSampler:
    """The rejection sampler, its suppressed count fed to the process's metrics."""
    counter = INSTRUMENTS.webhook_rejections_suppressed
    return RejectionSampler(
        rate=settings.rejections_per_source,
        total_rate=settings.rejections_total,
        on_suppressed=lambda provider: counter.inc(provider=provider),
    )


async def serve(
    app: web.Application, connections: WatchedConnections, settings: WebhookSettings, stop: asyncio.Event
) -> None:
    """Follow the connections and answer deliveries until `stop` is set."""
    follower = asyncio.create_task(connections.follow())
    runner, url = await start(app, settings.listen_host, settings.listen_port)
    log.info("webhook.listening", url=url)
    try:
        await stop.wait()
    finally:
        await stop_task(follower)
        await runner.cleanup()
