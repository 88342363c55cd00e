"""KV store listing is complete however nats-py orders its end-of-snapshot marker, and leaves
no consumer behind.

nats-py's KV watcher may announce the end of the initial entries before delivering them, when
the server pushed every entry before the watcher's consumer_info call returned. list() must not
trust that marker: these tests list many times and require every object every time.
Each list (and each ended watch) is a KV watcher whose consumer must be deleted when it stops:
left to nats-py's 5-minute inactive threshold, a burst of lists reaches the server's consumer
limit and every further list fails (adapters/jetstream/kv/watch.py).
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
from ports.resources import WatchEvent
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


async def consumers(store: KvStore) -> int:
    info = await store._conn.js.stream_info("KV_c8s_pipelineruns")
    return info.state.consumer_count


async def test_lists_and_ended_watches_leave_no_consumer(store: KvStore) -> None:
    """Thirty lists and three ended watches of a bucket leave it with no consumer at all."""
    spec = PipelineRunSpec(pipeline_config_ref="c", commit="abcdef1")
    await store.create(PipelineRun(metadata=ObjectMeta(name="run", namespace="ns"), spec=spec))
    assert await consumers(store) == 0
    for _ in range(10):
        await asyncio.gather(*(store.list(PipelineRun, "ns") for _ in range(3)))
    for _ in range(3):
        watch = store.watch(PipelineRun, "ns")
        first: WatchEvent = await anext(watch)
        assert first.type == "ADDED"
        await watch.aclose()  # type: ignore[attr-defined]
    assert await consumers(store) == 0
