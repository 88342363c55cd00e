"""One NATS connection per process, with the reconnect policy and a reconnect counter.

The connection reconnects forever by default (a service outlives a server outage). `generation`
grows on every reconnect: pull consumers compare it to the one they subscribed under and rebuild
their JetStream consumer and inbox after a reconnect, because nats-py pull subscriptions do not
recover on their own when the server restarts (nats-io/nats.py#504).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.jetstream.errors import NATS_ERRORS, translated
from adapters.jetstream.settings import BusSettings

log = structlog.get_logger(__name__)


class NatsConnection:
    """A nats-py client and its JetStream context; `generation` counts reconnects."""

    def __init__(self, settings: BusSettings) -> None:
        self.settings = settings
        self.generation = 0
        self._reconnected = asyncio.Event()
        self._client: Client | None = None
        self._js: JetStreamContext | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("NatsConnection.connect() was not called")
        return self._client

    @property
    def js(self) -> JetStreamContext:
        """One context per connection: its async-publish reply inbox is subscribed once."""
        if self._js is None:
            self._js = self.client.jetstream(timeout=self.settings.request_timeout)
        return self._js

    @property
    def is_connected(self) -> bool:
        return self._client is not None and bool(self._client.is_connected)

    @property
    def is_closing(self) -> bool:
        """Closed or draining for good (close() was called): nothing will recover."""
        c = self._client
        return c is not None and bool(c.is_closed or c.is_draining)

    async def connect(self) -> None:
        s = self.settings
        async with translated(f"connect to {s.servers}"):
            self._client = await nats.connect(
                servers=s.servers,
                name=s.name,
                connect_timeout=s.connect_timeout,
                reconnect_time_wait=s.reconnect_time_wait,
                max_reconnect_attempts=s.max_reconnect_attempts,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            )

    async def wait_reconnected(self, seconds: float) -> None:
        """Return once connected, or after `seconds` if the server is still away."""
        if self.is_connected:
            return
        self._reconnected.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reconnected.wait(), seconds)

    async def close(self) -> None:
        """Drain when connected (stop subscriptions, flush pending publishes and acks, close);
        otherwise, or if draining fails, just close: what was not flushed is redelivered later."""
        client = self._client
        if client is None or client.is_closed:
            return
        if client.is_connected and not client.is_draining:
            try:
                await client.drain()
                return
            except NATS_ERRORS as e:
                log.warning("nats.drain_failed", error=repr(e))
        try:
            await client.close()
        except NATS_ERRORS as e:  # the socket died under the close: closed all the same
            log.warning("nats.close_failed", error=repr(e))

    async def _on_error(self, e: Exception) -> None:
        log.debug("nats.error", error=repr(e))

    async def _on_disconnected(self) -> None:
        if not self.is_closing:
            log.warning("nats.disconnected")

    async def _on_reconnected(self) -> None:
        self.generation += 1
        self._reconnected.set()
        log.warning("nats.reconnected", generation=self.generation, url=_url(self._client))


def _url(client: Any) -> str:
    url = getattr(client, "connected_url", None)
    return url.netloc if url is not None else ""
