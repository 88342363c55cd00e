"""One NATS connection per process, with the reconnect policy and a reconnect counter.

The connection reconnects forever by default (a service outlives a server outage). `generation`
grows on every reconnect: pull consumers compare it to the one they subscribed under and rebuild
their JetStream consumer and inbox after a reconnect, because nats-py pull subscriptions do not
recover on their own when the server restarts (nats-io/nats.py#504).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.jetstream.errors import NATS_ERRORS, refused, translated
from adapters.jetstream.settings import BusSettings
from ports.bus_errors import BusRefused

log = structlog.get_logger(__name__)


class NatsConnection:
    """A nats-py client and its JetStream context; `generation` counts reconnects."""

    def __init__(self, settings: BusSettings) -> None:
        self.settings = settings
        self.generation = 0
        self._reconnected = asyncio.Event()
        self._refused = asyncio.Event()
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
        """Connect, retrying an absent server as the settings say; refused credentials end the
        attempt at once with BusRefused (retrying cannot fix them)."""
        s = self.settings
        client = Client()
        attempt = asyncio.ensure_future(
            client.connect(
                servers=s.servers,
                name=s.name,
                **_credentials(s),
                **_timing(s),
                max_reconnect_attempts=s.max_reconnect_attempts,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            )
        )
        refused = asyncio.ensure_future(self._refused.wait())
        try:
            await asyncio.wait({attempt, refused}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled (a caller's timeout): close the half-open client's socket
            refused.cancel()
            await _abandon(attempt, client)
            raise
        refused.cancel()
        if not attempt.done():
            await _abandon(attempt, client)
            who = s.user or "nobody"
            raise BusRefused(f"connect to {s.servers} as {who}: the server refused the credentials")
        if not attempt.cancelled() and attempt.exception() is not None:
            with contextlib.suppress(*NATS_ERRORS):
                await client.close()
        async with translated(f"connect to {s.servers}"):
            attempt.result()
        self._client = client

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
        if refused(e):
            self._refused.set()
            log.error("nats.refused", user=self.settings.user, error=str(e))
            return
        if "permissions violation" in str(e).lower():  # this identity tried what it may not
            log.error("nats.permission_denied", error=str(e))
            return
        log.debug("nats.error", error=repr(e))

    async def _on_disconnected(self) -> None:
        if not self.is_closing:
            log.warning("nats.disconnected")

    async def _on_reconnected(self) -> None:
        self.generation += 1
        self._reconnected.set()
        log.warning("nats.reconnected", generation=self.generation, url=_url(self._client))


async def _abandon(attempt: asyncio.Future[None], client: Client) -> None:
    attempt.cancel()
    with contextlib.suppress(asyncio.CancelledError, *NATS_ERRORS):
        await attempt
    with contextlib.suppress(*NATS_ERRORS):
        await client.close()


def _timing(s: BusSettings) -> dict[str, Any]:
    """Seconds as floats (Client.connect annotates them as int but takes fractions)."""
    return {"connect_timeout": s.connect_timeout, "reconnect_time_wait": s.reconnect_time_wait}


def _credentials(s: BusSettings) -> dict[str, Any]:
    """User, password, inbox prefix and TLS options for nats.connect (none when unset)."""
    options: dict[str, Any] = {"inbox_prefix": s.inbox_prefix}
    if s.user:
        options |= {"user": s.user, "password": s.password}
    if s.tls_ca_file:
        options["tls"] = ssl.create_default_context(cafile=s.tls_ca_file)
    return options


def _url(client: Any) -> str:
    url = getattr(client, "connected_url", None)
    return url.netloc if url is not None else ""
