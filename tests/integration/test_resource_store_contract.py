"""The ResourceStore port's contract (ports/resources.py), run against every adapter.

`ResourceStoreContract` holds the tests; each adapter gets a subclass with a `store_harness`
fixture yielding a StoreHarness (a store bound to two fresh namespaces, plus what only a test needs:
a second client, stopping and starting the backend). Here: the NATS KV adapter on a real
nats-server; the Kubernetes adapter subclasses it next to the control-plane fixtures.

Covers: create/get/list/delete of every kind, including Secret (stringData folded into data);
AlreadyExists on a duplicate create, NotFound on get/delete/patch of an absent object, Invalid for
apply without a name or a status of another kind; recreate after delete gets a new uid; create
ignores status and fills generateName; names with dots; list ordered and filtered by namespace;
apply creates, then keeps uid/creationTimestamp/status and bumps generation only on a spec change;
patch_status never goes behind observedSequence, drops a status for another uid, leaves the spec
alone, and ends at the highest sequence under concurrent writers from two clients; request_cancel
is idempotent; watch gives the existing objects as ADDED, then ADDED/MODIFIED/DELETED in order,
only for its namespace; watch keeps delivering after the backend restarts; a stopped backend
surfaces as StoreUnavailable.
"""

from __future__ import annotations

import asyncio
import uuid
from base64 import b64decode
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar

import pytest
from msgspec.structs import replace

from adapters.jetstream.connection import NatsConnection
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig, PipelineConfigStatus
from api.pipelinerun import PipelineRun
from api.repositoryconnection import (
    RepositoryConnection,
    RepositoryConnectionStatus,
)
from api.secret import Secret
from ports.resources import (
    AlreadyExists,
    Invalid,
    NotFound,
    ResourceStore,
    StoreUnavailable,
)
from tests.integration.conftest import bus_settings, eventually
from tests.support.resources import BUILDERS, config, connection, meta, run, run_status, secret, watching

T = TypeVar("T")


class StoreHarness(Protocol):
    @property
    def store(self) -> ResourceStore: ...
    @property
    def namespace(self) -> str: ...
    @property
    def other_namespace(self) -> str: ...

    async def connect(self) -> ResourceStore: ...
    async def stop_backend(self) -> None: ...
    async def start_backend(self) -> None: ...


async def settled(call: Callable[[], Awaitable[T]]) -> T:
    """`call()` retried while the backend is still coming back (StoreUnavailable)."""

    async def attempt() -> tuple[T] | None:
        try:
            return (await call(),)
        except StoreUnavailable:
            return None

    return (await eventually(attempt, deadline=30.0))[0]


class ResourceStoreContract:
    """The contract tests; a subclass provides the `store_harness` fixture."""

    @pytest.mark.parametrize("kind_name", sorted(BUILDERS))
    async def test_create_get_list_delete(self, store_harness: StoreHarness, kind_name: str) -> None:
        """Every kind round-trips: create stamps identity, get/list return it, delete removes it."""
        store, ns = store_harness.store, store_harness.namespace
        obj = BUILDERS[kind_name](ns)
        kind = type(obj)
        created = await store.create(obj)
        m = created.metadata
        assert m.uid and m.creation_timestamp and m.resource_version and m.generation in (1, None)
        assert await store.get(kind, ns, m.name) == created
        assert await store.list(kind, ns) == [created]
        await store.delete(kind, ns, m.name)
        with pytest.raises(NotFound):
            await store.get(kind, ns, m.name)
        with pytest.raises(NotFound):
            await store.delete(kind, ns, m.name)
        assert await store.list(kind, ns) == []

    async def test_duplicate_create_is_already_exists(self, store_harness: StoreHarness) -> None:
        """A second create of the same name fails with AlreadyExists and changes nothing."""
        store, ns = store_harness.store, store_harness.namespace
        first = await store.create(run(ns))
        with pytest.raises(AlreadyExists):
            await store.create(replace(run(ns), spec=replace(run(ns).spec, commit="fedcba9")))
        assert await store.get(PipelineRun, ns, "app-ci-1") == first

    async def test_recreate_after_delete_gets_a_new_uid(self, store_harness: StoreHarness) -> None:
        """A name can be reused after delete, and the new object has another uid."""
        store, ns = store_harness.store, store_harness.namespace
        first = await store.create(run(ns))
        await store.delete(PipelineRun, ns, "app-ci-1")
        second = await store.create(run(ns))
        assert second.metadata.uid != first.metadata.uid

    async def test_create_ignores_status_and_fills_generate_name(self, store_harness: StoreHarness) -> None:
        """create drops a status in the body and names an object from generateName."""
        store, ns = store_harness.store, store_harness.namespace
        body = replace(run(ns), status=run_status(9))
        body = replace(body, metadata=ObjectMeta(namespace=ns, generate_name="app-ci-"))
        created = await store.create(body)
        assert created.status is None
        assert created.metadata.name.startswith("app-ci-") and len(created.metadata.name) > len("app-ci-")
        assert (await store.get(PipelineRun, ns, created.metadata.name)).status is None

    async def test_secret_string_data_is_folded_into_data(self, store_harness: StoreHarness) -> None:
        """A Secret's stringData is stored as base64 data, as the apiserver does."""
        store, ns = store_harness.store, store_harness.namespace
        await store.create(secret(ns))
        stored = await store.get(Secret, ns, "hook")
        assert stored.string_data == {}
        assert b64decode(stored.data["webhook-secret"]) == b"s3cret"

    async def test_names_with_dots_and_list_order(self, store_harness: StoreHarness) -> None:
        """Names may hold dots; list is ordered by namespace then name and filtered by namespace."""
        h = store_harness
        for ns, name in [
            (h.namespace, "b.v2"),
            (h.other_namespace, "a"),
            (h.namespace, "a.v1"),
            (h.namespace, "a"),
        ]:
            await h.store.create(config(ns, name))
        assert [c.metadata.name for c in await h.store.list(PipelineConfig, h.namespace)] == [
            "a",
            "a.v1",
            "b.v2",
        ]
        ours = [(c.metadata.namespace, c.metadata.name) for c in await h.store.list(PipelineConfig)]
        expected = sorted(
            [(h.namespace, "a"), (h.namespace, "a.v1"), (h.namespace, "b.v2"), (h.other_namespace, "a")]
        )
        assert [k for k in ours if k[0] in (h.namespace, h.other_namespace)] == expected
        assert (await h.store.get(PipelineConfig, h.namespace, "a.v1")).metadata.name == "a.v1"

    async def test_apply_creates_then_keeps_identity_and_status(self, store_harness: StoreHarness) -> None:
        """apply creates when absent, then replaces spec and labels keeping uid, timestamp and status."""
        store, ns = store_harness.store, store_harness.namespace
        created = await store.apply(config(ns))
        await store.patch_status(
            PipelineConfig, ns, "app-ci", PipelineConfigStatus(total_runs=3, observed_sequence=4)
        )
        changed = replace(
            config(ns, image="python:3.12"), metadata=replace(meta(ns, "app-ci"), labels={"x": "y"})
        )
        applied = await store.apply(changed)
        assert applied.metadata.uid == created.metadata.uid
        assert applied.metadata.creation_timestamp == created.metadata.creation_timestamp
        assert applied.metadata.labels == {"x": "y"}
        assert applied.spec.steps[0].image == "python:3.12"
        assert applied.status is not None and applied.status.total_runs == 3
        assert applied.metadata.generation == (created.metadata.generation or 0) + 1
        again = await store.apply(changed)
        assert again.metadata.generation == applied.metadata.generation
        assert await store.get(PipelineConfig, ns, "app-ci") == again

    async def test_patch_status_never_goes_backwards(self, store_harness: StoreHarness) -> None:
        """A lower observedSequence is dropped, the same status is a no-op, a higher one is written."""
        store, ns = store_harness.store, store_harness.namespace
        await store.create(run(ns))
        written = await store.patch_status(PipelineRun, ns, "app-ci-1", run_status(5))
        assert written is not None and written.status == run_status(5)
        same = await store.patch_status(PipelineRun, ns, "app-ci-1", run_status(5))
        assert same is not None and same.metadata.resource_version == written.metadata.resource_version
        assert await store.patch_status(PipelineRun, ns, "app-ci-1", run_status(3, "Pending")) is None
        assert (await store.get(PipelineRun, ns, "app-ci-1")).status == run_status(5)
        assert await store.patch_status(PipelineRun, ns, "app-ci-1", run_status(7, "Succeeded")) is not None
        stored = await store.get(PipelineRun, ns, "app-ci-1")
        assert stored.status == run_status(7, "Succeeded") and stored.spec == run(ns).spec

    async def test_patch_status_for_another_uid_is_dropped(self, store_harness: StoreHarness) -> None:
        """A status addressed to a deleted-and-recreated object (other uid) is dropped."""
        store, ns = store_harness.store, store_harness.namespace
        old = await store.create(run(ns))
        await store.delete(PipelineRun, ns, "app-ci-1")
        new = await store.create(run(ns))
        assert (
            await store.patch_status(PipelineRun, ns, "app-ci-1", run_status(1), uid=old.metadata.uid) is None
        )
        assert (await store.get(PipelineRun, ns, "app-ci-1")).status is None
        assert await store.patch_status(PipelineRun, ns, "app-ci-1", run_status(1), uid=new.metadata.uid)

    async def test_patch_status_of_absent_object_is_not_found(self, store_harness: StoreHarness) -> None:
        """patch_status of an object that does not exist raises NotFound."""
        h = store_harness
        with pytest.raises(NotFound):
            await h.store.patch_status(PipelineRun, h.namespace, "nope", run_status(1))
        status = RepositoryConnectionStatus(webhook_url="http://x/webhooks/github", observed_sequence=1)
        with pytest.raises(NotFound):
            await h.store.patch_status(RepositoryConnection, h.namespace, "nope", status)

    async def test_malformed_requests_are_invalid(self, store_harness: StoreHarness) -> None:
        """apply without a name, and a status of another kind, are refused with Invalid."""
        store, ns = store_harness.store, store_harness.namespace
        await store.create(run(ns))
        nameless = replace(config(ns), metadata=ObjectMeta(namespace=ns, generate_name="app-"))
        with pytest.raises(Invalid):
            await store.apply(nameless)
        with pytest.raises(Invalid):
            await store.patch_status(PipelineRun, ns, "app-ci-1", PipelineConfigStatus(total_runs=1))

    async def test_concurrent_status_writers_end_at_the_highest(self, store_harness: StoreHarness) -> None:
        """Interleaved writers on two clients leave the highest observedSequence stored."""
        store, ns = store_harness.store, store_harness.namespace
        other = await store_harness.connect()
        await store.create(run(ns))

        async def writer(client: ResourceStore, first: int) -> None:
            for seq in range(first, 60, 6):
                await client.patch_status(PipelineRun, ns, "app-ci-1", run_status(seq))

        await asyncio.gather(*(writer(store if i % 2 else other, i) for i in range(6)))
        status = (await store.get(PipelineRun, ns, "app-ci-1")).status
        assert status is not None and status.observed_sequence == 59

    async def test_request_cancel_is_idempotent(self, store_harness: StoreHarness) -> None:
        """request_cancel sets spec.cancelRequested once; a repeat changes nothing; absent is NotFound."""
        store, ns = store_harness.store, store_harness.namespace
        await store.create(run(ns))
        await store.patch_status(PipelineRun, ns, "app-ci-1", run_status(2))
        first = await store.request_cancel(ns, "app-ci-1")
        second = await store.request_cancel(ns, "app-ci-1")
        assert first.spec.cancel_requested and second.spec.cancel_requested
        assert second.metadata.generation == first.metadata.generation
        assert (await store.get(PipelineRun, ns, "app-ci-1")).status == run_status(2)
        with pytest.raises(NotFound):
            await store.request_cancel(ns, "nope")

    async def test_watch_lists_then_follows_changes_in_order(self, store_harness: StoreHarness) -> None:
        """watch gives the existing objects as ADDED, then each change in order; DELETED on delete."""
        store, ns = store_harness.store, store_harness.namespace
        await store.create(run(ns, "r1"))
        await store.create(run(ns, "r2"))
        async with watching(store, PipelineRun, ns) as w:
            assert sorted(await w.take(2)) == [("ADDED", "r1"), ("ADDED", "r2")]
            await store.create(run(ns, "r3"))
            await store.patch_status(PipelineRun, ns, "r1", run_status(4))
            await store.request_cancel(ns, "r1")
            await store.delete(PipelineRun, ns, "r2")
            assert await w.take(3) == [("ADDED", "r3"), ("MODIFIED", "r1"), ("MODIFIED", "r1")]
            kind, name, obj = await w.next()
            assert (kind, name, obj.metadata.labels) == ("DELETED", "r2", {"team": "a"})

    async def test_watch_of_a_namespace_ignores_others(self, store_harness: StoreHarness) -> None:
        """A namespaced watch sees nothing from another namespace."""
        h = store_harness
        await h.store.create(connection(h.other_namespace, "theirs"))
        async with watching(h.store, RepositoryConnection, h.namespace) as w:
            await h.store.create(connection(h.other_namespace, "theirs-too"))
            await h.store.create(connection(h.namespace, "ours"))
            assert await w.take(1) == [("ADDED", "ours")]

    async def test_watch_survives_a_backend_restart(self, store_harness: StoreHarness) -> None:
        """After the backend restarts, the same watch delivers later changes (re-listing as needed)."""
        store, ns = store_harness.store, store_harness.namespace
        other = await store_harness.connect()
        await store.create(run(ns, "before"))
        await store.create(run(ns, "gone"))
        async with watching(store, PipelineRun, ns) as w:
            assert sorted(await w.take(2)) == [("ADDED", "before"), ("ADDED", "gone")]
            await store_harness.stop_backend()
            await store_harness.start_backend()
            await settled(lambda: other.delete(PipelineRun, ns, "gone"))
            await settled(lambda: store.patch_status(PipelineRun, ns, "before", run_status(1)))
            await settled(lambda: store.create(run(ns, "after")))
            seen: set[tuple[str, str]] = set()
            # A re-list may report "before" as MODIFIED or ADDED, and in any order with the others.
            while not (
                {n for _, n in seen} >= {"before", "after"}
                and {("ADDED", "after"), ("DELETED", "gone")} <= seen
            ):
                seen.update(await w.take(1, deadline=30.0))
            status = (await store.get(PipelineRun, ns, "before")).status
            assert status is not None and status.observed_sequence == 1

    async def test_stopped_backend_is_store_unavailable(self, store_harness: StoreHarness) -> None:
        """While the backend is down, calls fail with StoreUnavailable, and work again after."""
        store, ns = store_harness.store, store_harness.namespace
        await store.create(run(ns))
        await store_harness.stop_backend()
        with pytest.raises(StoreUnavailable):
            await store.get(PipelineRun, ns, "app-ci-1")
        await store_harness.start_backend()
        assert (await settled(lambda: store.get(PipelineRun, ns, "app-ci-1"))).metadata.name == "app-ci-1"


class KvHarness:
    """The NATS KV adapter on a per-test nats-server."""

    def __init__(self, server: NatsServer, store: KvStore) -> None:
        self.server, self.store = server, store
        self.namespace, self.other_namespace = f"ns-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
        self._stores = [store]

    async def connect(self) -> KvStore:
        store = await KvStore.connect(bus_settings(self.server))
        self._stores.append(store)
        return store

    async def stop_backend(self) -> None:
        await asyncio.to_thread(self.server.stop)

    async def start_backend(self) -> None:
        await asyncio.to_thread(self.server.start)

    async def close(self) -> None:
        for store in self._stores:
            await store.close()


class TestKvStoreContract(ResourceStoreContract):
    @pytest.fixture
    async def store_harness(self, nats_server: NatsServer) -> AsyncIterator[KvHarness]:
        harness = KvHarness(nats_server, await KvStore.connect(bus_settings(nats_server)))
        yield harness
        await harness.close()

    async def test_status_write_after_a_read_is_one_request(self, nats_server: NatsServer) -> None:
        """The object as last read (or written) is remembered: the status write after it sends one
        request (the update at the remembered revision), not a read and an update."""
        conn = NatsConnection(bus_settings(nats_server))
        await conn.connect()
        store = KvStore.from_connection(conn)
        await store.ensure_buckets()
        await store.create(run("ns"))
        await store.get(PipelineRun, "ns", "app-ci-1")
        sent = conn.client.stats["out_msgs"]
        written = await store.patch_status(PipelineRun, "ns", "app-ci-1", run_status(1))
        assert conn.client.stats["out_msgs"] - sent == 1
        sent = conn.client.stats["out_msgs"]
        await store.patch_status(PipelineRun, "ns", "app-ci-1", run_status(2))  # after its own write
        assert conn.client.stats["out_msgs"] - sent == 1
        assert written is not None and (await store.get(PipelineRun, "ns", "app-ci-1")).status == run_status(
            2
        )
        await conn.close()

    async def test_a_remembered_object_changed_since_is_read_again(self, store_harness: KvHarness) -> None:
        """Another client cancels the run and writes a status after this client read it: this
        client's status write neither reverts the cancel nor goes behind the other status."""
        store, ns = store_harness.store, store_harness.namespace
        other = await store_harness.connect()
        await store.create(run(ns))
        await store.get(PipelineRun, ns, "app-ci-1")
        await other.request_cancel(ns, "app-ci-1")
        assert await store.patch_status(PipelineRun, ns, "app-ci-1", run_status(3)) is not None
        stored = await store.get(PipelineRun, ns, "app-ci-1")
        assert stored.spec.cancel_requested and stored.status == run_status(3)
        await other.patch_status(PipelineRun, ns, "app-ci-1", run_status(9))
        assert await store.patch_status(PipelineRun, ns, "app-ci-1", run_status(5)) is None
        stored = await store.get(PipelineRun, ns, "app-ci-1")
        assert stored.spec.cancel_requested and stored.status == run_status(9)
