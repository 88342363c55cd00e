"""KV store listing is complete however nats-py orders its end-of-snapshot marker.

nats-py's KV watcher may announce the end of the initial entries before delivering them, when
the server pushed every entry before the watcher's consumer_info call returned. list() must not
trust that marker: these tests list many times and require every object every time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from api.meta import ObjectMeta
from api.pipelinerun import PipelineRun, PipelineRunSpec
from tests.integration.conftest import bus_settings

COUNT = 12


@pytest.fixture
async def store(nats_server: NatsServer) -> AsyncIterator[KvStore]:
    bus = await NatsBus.connect(bus_settings(nats_server))
    store = KvStore.from_connection(bus.connection)
    await store.ensure_buckets()
    yield store
    await bus.close()


async def test_list_returns_every_object_every_time(store: KvStore) -> None:
    """Two hundred lists, some concurrent, each return all the objects that exist."""
    for i in range(COUNT):
        spec = PipelineRunSpec(pipeline_config_ref="c", commit="abcdef1")
        await store.create(PipelineRun(metadata=ObjectMeta(name=f"run-{i}", namespace="ns"), spec=spec))
    for _ in range(50):
        counts = await asyncio.gather(*(store.list(PipelineRun, "ns") for _ in range(4)))
        assert [len(c) for c in counts] == [COUNT] * 4


async def test_list_of_an_empty_namespace_is_empty(store: KvStore) -> None:
    """An empty bucket or namespace lists as nothing, promptly."""
    assert await store.list(PipelineRun, "nobody") == []
