"""Every JetStream stream and KV bucket c8s creates has the byte and age limits of
adapters/jetstream/limits.py (explained in docs/operations.md), against a real nats-server.

Covers: the run and webhook streams, the delivery log (aged by its TTL) and the resource buckets
(bytes only: state is not aged out) all have limits after start-up; a stream and a bucket created
before the limits existed are brought up to them; together they fit half the NATS store of the
deployment's volume (a byte limit is a reservation the server refuses when it does not fit).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.js.api import KeyValueConfig, StreamConfig

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.deliveries import BUCKET, KvDeliveryLog
from adapters.jetstream.kv.objects import BUCKETS
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.limits import DELIVERY_LOG_BYTES, STREAM_LIMITS, GiB, resource_bucket_limits
from adapters.jetstream.server import NatsServer
from events.subjects import RUN_STREAM, RUN_SUBJECTS
from tests.integration.conftest import bus_settings

TTL = 3600.0
#: nats-server's default max store on deploy/400-nats.yaml's 10 GiB volume (75%), with room to spare.
MAX_STORE = 7.5 * GiB


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[NatsBus]:
    bus = await NatsBus.connect(bus_settings(nats_server))
    try:
        yield bus
    finally:
        await bus.close()


async def start_up(bus: NatsBus) -> None:
    """What the services do at start: streams, resource buckets, the delivery log."""
    await bus.ensure_streams()
    await KvStore.from_connection(bus.connection).ensure_buckets()
    await KvDeliveryLog.open(bus.connection, ttl_seconds=TTL)


async def limits_on_server(bus: NatsBus) -> dict[str, tuple[int, float]]:
    infos = await bus.connection.js.streams_info()
    return {i.config.name or "": (i.config.max_bytes or -1, i.config.max_age or 0.0) for i in infos}


async def test_every_stream_and_bucket_is_limited(bus: NatsBus) -> None:
    """After start-up each stream and bucket has exactly its documented byte and age limits."""
    await start_up(bus)
    expected = {name: (lim.max_bytes, lim.max_age) for name, lim in STREAM_LIMITS.items()}
    expected[f"KV_{BUCKET}"] = (DELIVERY_LOG_BYTES, TTL)
    for bucket in BUCKETS.values():
        expected[f"KV_{bucket}"] = (resource_bucket_limits(bucket).max_bytes, 0.0)
    assert await limits_on_server(bus) == expected
    assert sum(max_bytes for max_bytes, _ in expected.values()) < 0.5 * MAX_STORE


async def test_existing_stream_and_bucket_get_the_limits(bus: NatsBus) -> None:
    """A run stream and a delivery log created without limits (an older c8s) get them at start-up."""
    js = bus.connection.js
    await js.add_stream(StreamConfig(name=RUN_STREAM, subjects=[RUN_SUBJECTS]))
    await js.create_key_value(config=KeyValueConfig(bucket=BUCKET, history=1))
    await start_up(bus)
    limits = await limits_on_server(bus)
    assert limits[RUN_STREAM] == (STREAM_LIMITS[RUN_STREAM].max_bytes, STREAM_LIMITS[RUN_STREAM].max_age)
    assert limits[f"KV_{BUCKET}"] == (DELIVERY_LOG_BYTES, TTL)
