"""Integration fixtures: a real nats-server per test (free port on loopback, temp store dir) and
the bus harnesses the contract suite runs against.

A harness wraps one Bus adapter with what only a test needs: a second connection (a restarted
process), raw publishes (bodies no producer would send), the stored bytes of a message, the
consumer's ack state, and restarting the server on the same port and store dir.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import nats
import pytest
from nats.aio.client import Client

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.server import NatsServer
from adapters.jetstream.settings import BusSettings
from events.subjects import RUN_STREAM
from ports.bus import Bus

T = TypeVar("T")


@dataclass(frozen=True)
class AckState:
    ack_floor: int
    ack_pending: int
    redelivered: int


class BusHarness(Protocol):
    @property
    def bus(self) -> Bus: ...

    async def connect(self) -> Bus: ...
    async def publish_raw(self, subject: str, body: bytes) -> int: ...
    async def stored(self, seq: int) -> bytes | None: ...
    async def ack_state(self, durable: str) -> AckState: ...
    async def delete_consumer(self, durable: str) -> None: ...
    async def stop_server(self) -> None: ...
    async def start_server(self) -> None: ...


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    with NatsServer(tmp_path / "jetstream") as server:
        yield server


def bus_settings(server: NatsServer) -> BusSettings:
    """Short timeouts so recovery and stops take a fraction of a second."""
    return BusSettings(
        servers=[server.url],
        name="tests",
        request_timeout=1.0,
        connect_timeout=1.0,
        reconnect_time_wait=0.1,
        ack_wait=10.0,
        fetch_batch=10,
        fetch_timeout=0.3,
        stall_check=1.0,
    )


class NatsHarness:
    def __init__(self, server: NatsServer, bus: NatsBus, raw: Client) -> None:
        self.server, self.bus, self.raw = server, bus, raw
        self._buses: list[NatsBus] = [bus]

    async def connect(self) -> NatsBus:
        bus = await NatsBus.connect(bus_settings(self.server))
        self._buses.append(bus)
        return bus

    async def publish_raw(self, subject: str, body: bytes) -> int:
        return (await self.raw.jetstream().publish(subject, body)).seq

    async def stored(self, seq: int) -> bytes | None:
        msg = await self.raw.jetstream().get_msg(RUN_STREAM, seq)
        return msg.data

    async def ack_state(self, durable: str) -> AckState:
        info = await self.raw.jetstream().consumer_info(RUN_STREAM, durable)
        floor = info.ack_floor.stream_seq if info.ack_floor else 0
        return AckState(floor or 0, info.num_ack_pending or 0, info.num_redelivered or 0)

    async def delete_consumer(self, durable: str) -> None:
        await self.raw.jetstream().delete_consumer(RUN_STREAM, durable)

    async def stop_server(self) -> None:
        await asyncio.to_thread(self.server.stop)

    async def start_server(self) -> None:
        await asyncio.to_thread(self.server.start)

    async def close(self) -> None:
        for bus in self._buses:
            await bus.close()
        await self.raw.close()


@pytest.fixture(params=["nats"])
async def harness(request: pytest.FixtureRequest, nats_server: NatsServer) -> AsyncIterator[BusHarness]:
    """A connected bus with its streams in place, per adapter (only NATS exists so far)."""
    bus = await NatsBus.connect(bus_settings(nats_server))
    await bus.ensure_streams()
    raw = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    h = NatsHarness(nats_server, bus, raw)
    yield h
    await h.close()


async def eventually(check: Callable[[], Awaitable[T | None]], deadline: float = 10.0) -> T:
    """Poll `check` until it returns something other than None/False, or fail at the deadline."""
    end = time.monotonic() + deadline
    while True:
        try:
            result = await check()
        except Exception:
            result = None
            if time.monotonic() > end:
                raise
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {deadline}s")
        await asyncio.sleep(0.02)
