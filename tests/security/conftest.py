"""Fixtures of the attack tests: a real nats-server with c8s's authorization (every identity of
adapters.jetstream.permissions, each with its own generated password) and clients connected as
one identity, or as none, that record what the server refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.permissions import authorization_config, identities
from adapters.jetstream.server import NatsServer
from adapters.jetstream.settings import BusSettings


class SecuredNats:
    """A server with c8s's authorization; `passwords` are every identity's."""

    def __init__(self, server: NatsServer, passwords: dict[str, str]) -> None:
        self.server, self.passwords = server, passwords
        self._clients: list[Client] = []
        self._buses: list[NatsBus] = []

    def settings(self, user: str) -> BusSettings:
        return BusSettings(
            servers=[self.server.url],
            name=user,
            user=user,
            password=self.passwords[user],
            request_timeout=1.0,
            connect_timeout=1.0,
            reconnect_time_wait=0.1,
            fetch_timeout=0.3,
            stall_check=1.0,
        )

    async def bus(self, user: str) -> NatsBus:
        """The c8s adapter connected as `user`."""
        bus = await NatsBus.connect(self.settings(user))
        self._buses.append(bus)
        return bus

    async def raw(self, user: str = "", password: str | None = None) -> Refusals:
        """A plain nats-py client as `user` ("" : no credentials), on that user's inbox prefix."""
        refusals = Refusals()
        options: dict[str, object] = {"inbox_prefix": f"_INBOX.{user}" if user else "_INBOX"}
        if user:
            options |= {"user": user, "password": self.passwords[user] if password is None else password}
        refusals.client = await nats.connect(
            self.server.url, error_cb=refusals.record, max_reconnect_attempts=0, **options
        )
        self._clients.append(refusals.client)
        return refusals

    async def refused_at_connect(self, user: str = "", password: str = "") -> bool:
        """True when a plain client as `user`/`password` ("" : none) gets 'Authorization Violation'."""
        seen = asyncio.Event()

        async def on_error(e: Exception) -> None:
            if "authorization violation" in str(e).lower():
                seen.set()

        client = Client()
        options = {"user": user, "password": password} if user else {}
        attempt = asyncio.ensure_future(
            client.connect(self.server.url, error_cb=on_error, allow_reconnect=False, **options)
        )
        try:
            await asyncio.wait_for(seen.wait(), 10)
        except TimeoutError:
            return False
        finally:
            attempt.cancel()
            with contextlib.suppress(BaseException):
                await attempt
            with contextlib.suppress(Exception):
                await client.close()
        return not client.is_connected

    async def close(self) -> None:
        for bus in self._buses:
            await bus.close()
        for client in self._clients:
            if not client.is_closed:
                await client.close()


class Refusals:
    """A raw client and the permission violations the server reported to it."""

    client: Client

    def __init__(self) -> None:
        self.errors: list[str] = []

    async def record(self, e: Exception) -> None:
        self.errors.append(str(e).lower())

    async def refused(self, subject: str, deadline: float = 5.0) -> bool:
        """True once the server reported a permissions violation naming `subject`."""
        end = time.monotonic() + deadline
        await self.client.flush()
        while time.monotonic() < end:
            if any("permissions violation" in e and subject.lower() in e for e in self.errors):
                return True
            await asyncio.sleep(0.02)
        return False


@pytest.fixture
def secured_server(tmp_path: Path) -> Iterator[tuple[NatsServer, dict[str, str]]]:
    readers = ("team-a",)
    passwords = {user: secrets.token_urlsafe(16) for user in identities("local", readers)}
    config = authorization_config(passwords, "local", team_readers=readers)
    server = NatsServer(tmp_path / "jetstream", authorization=config)
    with server:
        yield server, passwords


@pytest.fixture
async def secured(secured_server: tuple[NatsServer, dict[str, str]]) -> AsyncIterator[SecuredNats]:
    """The server, its streams created by the stream manager (as the scheduler does at start)."""
    nats_ = SecuredNats(*secured_server)
    await (await nats_.bus("scheduler")).ensure_streams()
    yield nats_
    await nats_.close()
