"""The resource-store port over NATS JetStream KV: local mode's stand-in for the apiserver.

Layout and owned metadata are in adapters.jetstream.kv.objects, watching in .watch. Every write
is a compare-and-set on the KV revision: create writes only when the key is absent (AlreadyExists
otherwise), apply/patch_status/request_cancel/delete re-read and retry when another writer got in
between, so concurrent writers never lose each other's changes and a status never goes behind the
stored observedSequence. Every nats-py failure leaves as a ports.resources error.

patch_status skips its read when this store holds the object as it last read or wrote it (a
bounded memory of recent objects and their revisions, as the Kubernetes store does): the update
carries that revision, so one round trip when nobody else wrote since, a Conflict and the usual
read otherwise. A remembered object is only trusted to *send* a write, never to drop one
(dropping always re-reads).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from msgspec.structs import replace
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from adapters.jetstream.connection import NatsConnection
from adapters.jetstream.kv.errors import translated
from adapters.jetstream.kv.objects import (
    BUCKETS,
    Codec,
    generated_name,
    key_of,
    key_pattern,
    merged,
    new_object,
    with_version,
)
from adapters.jetstream.kv.watch import KvWatch, is_marker, open_watcher, stop_watcher
from adapters.jetstream.limits import bucket_limited, resource_bucket_limits
from adapters.jetstream.settings import BusSettings
from api.pipelinerun import PipelineRun
from api.secret import Secret
from ports.bus_errors import BusError
from ports.resources import (
    AlreadyExists,
    AnyStatus,
    Conflict,
    Invalid,
    NotFound,
    R,
    Resource,
    StoreUnavailable,
    WatchEvent,
)
from ports.status_rules import stale, status_checked

#: Compare-and-set attempts before a write gives up with Conflict.
CAS_ATTEMPTS = 50
#: A generateName'd create retries this often on a name collision.
NAME_ATTEMPTS = 5
#: Revisions kept per key: the current value is all the store needs.
HISTORY = 1
#: Objects remembered (as last read or written, with their revision) to skip the read before a
#: status write.
REMEMBERED = 1024

Where = tuple[type[Resource], str, str]


class KvStore:
    """ResourceStore adapter; `await KvStore.connect(settings)` or `KvStore.from_connection(conn)`."""

    def __init__(self, conn: NatsConnection, *, owns_connection: bool = False) -> None:
        self._conn = conn
        self._owns = owns_connection
        self._buckets: dict[type[Resource], KeyValue] = {}
        self._codecs: dict[type[Resource], Any] = {}
        self._remembered: OrderedDict[Where, tuple[Resource, int]] = OrderedDict()
        self._closed = False

    @classmethod
    async def connect(cls, settings: BusSettings) -> KvStore:
        """A store on its own connection, buckets in place; close() closes the connection."""
        conn = NatsConnection(settings)
        try:
            await conn.connect()
        except BusError as e:
            raise StoreUnavailable(str(e)) from e
        store = cls(conn, owns_connection=True)
        await store.ensure_buckets()
        return store

    @classmethod
    def from_connection(cls, conn: NatsConnection) -> KvStore:
        """A store sharing a process's connection (buckets are created on first use)."""
        return cls(conn)

    async def ensure_buckets(self) -> None:
        """Create every kind's bucket if missing (idempotent; every process may call it)."""
        for kind in BUCKETS:
            await self._bucket(kind)

    async def get(self, kind: type[R], namespace: str, name: str) -> R:
        obj, _ = await self._read(kind, namespace, name)
        return obj

    async def list(self, kind: type[R], namespace: str | None = None) -> list[R]:
        kv, codec = await self._bucket(kind), self._codec(kind)
        watcher, entries = await open_watcher(kv, key_pattern(namespace), self._timeout)
        await stop_watcher(watcher)
        objs = [codec.decode(e.value, e.revision, e.key) for e in entries if not is_marker(e)]
        return sorted(objs, key=lambda o: (o.metadata.namespace, o.metadata.name))

    async def create(self, obj: R) -> R:
        if obj.metadata.name:
            return await self._create(new_object(obj))
        for _ in range(NAME_ATTEMPTS - 1):
            try:
                return await self._create(new_object(generated_name(obj)))
            except AlreadyExists:
                continue
        return await self._create(new_object(generated_name(obj)))

    async def apply(self, obj: R) -> R:
        kind, meta = type(obj), obj.metadata
        if not meta.name:
            raise Invalid(f"apply {kind.__name__}: metadata.name is required (generateName is for create)")
        for _ in range(CAS_ATTEMPTS):
            try:
                applied = await self._modify(kind, meta.namespace, meta.name, lambda cur: merged(cur, obj))
            except NotFound:
                applied = None
            if applied is not None:
                return applied
            try:
                return await self.create(obj)
            except AlreadyExists:
                continue
        raise Conflict(f"apply {kind.__name__} {meta.namespace}/{meta.name}: too many concurrent writers")

    async def delete(self, kind: type[R], namespace: str, name: str) -> None:
        kv, key = await self._bucket(kind), key_of(namespace, name)
        self._remembered.pop((kind, namespace, name), None)
        for _ in range(CAS_ATTEMPTS):
            _, revision = await self._read(kind, namespace, name)
            try:
                async with translated(f"delete {kind.__name__} {namespace}/{name}"):
                    await kv.delete(key, last=revision)
                return
            except Conflict:
                continue
        raise Conflict(f"delete {kind.__name__} {namespace}/{name}: too many concurrent writers")

    async def request_cancel(self, namespace: str, name: str) -> PipelineRun:
        def cancelled(run: PipelineRun) -> PipelineRun:
            if run.spec.cancel_requested:
                return run
            generation = (run.metadata.generation or 0) + 1
            return replace(
                run,
                spec=replace(run.spec, cancel_requested=True),
                metadata=replace(run.metadata, generation=generation),
            )

        run = await self._modify(PipelineRun, namespace, name, cancelled)
        assert run is not None  # `cancelled` always returns a run
        return run

    async def patch_status(
        self, kind: type[R], namespace: str, name: str, status: AnyStatus, *, uid: str | None = None
    ) -> R | None:
        status_checked(kind, status)

        def patched(current: R) -> R | None:
            if isinstance(current, Secret) or stale(current, status, uid):
                return None
            return current if current.status == status else replace(current, status=status)

        written = await self._write_remembered(kind, namespace, name, patched)
        if written is not None:
            return written
        return await self._modify(kind, namespace, name, patched)

    async def watch(self, kind: type[R], namespace: str | None = None) -> AsyncIterator[WatchEvent]:
        kv = await self._bucket(kind)
        watch = KvWatch(self._conn, kv, key_pattern(namespace), self._codec(kind), lambda: self._closed)
        async with contextlib.aclosing(watch.events()) as events:  # its consumer goes with this watch
            async for event in events:
                yield event

    async def close(self) -> None:
        self._closed = True
        if self._owns:
            try:
                await self._conn.close()
            except BusError as e:
                raise StoreUnavailable(str(e)) from e

    @property
    def _timeout(self) -> float:
        return self._conn.settings.request_timeout

    def _codec(self, kind: type[R]) -> Codec[R]:
        codec: Codec[R] | None = self._codecs.get(kind)
        if codec is None:
            codec = self._codecs[kind] = Codec(kind)
        return codec

    async def _bucket(self, kind: type[Resource]) -> KeyValue:
        kv = self._buckets.get(kind)
        if kv is None:
            kv = self._buckets[kind] = await _ensure_bucket(self._conn, BUCKETS[kind])
        return kv

    async def _read(self, kind: type[R], namespace: str, name: str) -> tuple[R, int]:
        """The stored object (resourceVersion set) and its revision; NotFound when absent."""
        kv, key = await self._bucket(kind), key_of(namespace, name)
        async with translated(f"{kind.__name__} {namespace}/{name}"):
            entry = await kv.get(key)
        if entry.value is None or entry.revision is None:
            raise NotFound(f"{kind.__name__} {namespace}/{name}")
        obj = self._codec(kind).decode(entry.value, entry.revision, key)
        self._remember((kind, namespace, name), obj, entry.revision)
        return obj, entry.revision

    async def _create(self, obj: R) -> R:
        kind, meta = type(obj), obj.metadata
        kv = await self._bucket(kind)
        try:
            async with translated(f"create {kind.__name__} {meta.namespace}/{meta.name}"):
                revision = await kv.create(key_of(meta.namespace, meta.name), self._codec(kind).encode(obj))
        except Conflict as e:
            raise AlreadyExists(f"{kind.__name__} {meta.namespace}/{meta.name} already exists") from e
        return with_version(obj, revision)

    async def _modify(
        self, kind: type[R], namespace: str, name: str, change: Callable[[R], R | None]
    ) -> R | None:
        """Compare-and-set `change(current)`: None or `current` itself writes nothing and is returned."""
        kv, key = await self._bucket(kind), key_of(namespace, name)
        for _ in range(CAS_ATTEMPTS):
            current, revision = await self._read(kind, namespace, name)
            new = change(current)
            if new is None or new is current:
                return new
            try:
                async with translated(f"update {kind.__name__} {namespace}/{name}"):
                    written = await kv.update(key, self._codec(kind).encode(new), last=revision)
            except Conflict:
                continue
            return self._remember((kind, namespace, name), with_version(new, written), written)
        raise Conflict(f"update {kind.__name__} {namespace}/{name}: too many concurrent writers")

    async def _write_remembered(
        self, kind: type[R], namespace: str, name: str, change: Callable[[R], R | None]
    ) -> R | None:
        """`change` of the remembered object written at its remembered revision; None when nothing
        is remembered, when the change is not a write (a drop is decided on a fresh read), or when
        someone else wrote since (Conflict): the caller then reads and writes as usual."""
        held = self._remembered.pop((kind, namespace, name), None)
        if held is None:
            return None
        remembered, revision = held
        assert isinstance(remembered, kind)
        new = change(remembered)
        if new is None or new is remembered:
            return None
        kv, key = await self._bucket(kind), key_of(namespace, name)
        try:
            async with translated(f"update {kind.__name__} {namespace}/{name}"):
                written = await kv.update(key, self._codec(kind).encode(new), last=revision)
        except Conflict:
            return None
        return self._remember((kind, namespace, name), with_version(new, written), written)

    def _remember(self, where: Where, obj: R, revision: int) -> R:
        self._remembered[where] = (obj, revision)
        self._remembered.move_to_end(where)
        if len(self._remembered) > REMEMBERED:
            self._remembered.popitem(last=False)
        return obj


async def _ensure_bucket(conn: NatsConnection, bucket: str) -> KeyValue:
    """The bucket, created when missing; an existing one is used as it is apart from its limits."""
    limits = resource_bucket_limits(bucket)
    try:
        async with translated(f"bucket {bucket}"):
            kv = await conn.js.key_value(bucket)
            await bucket_limited(conn.js, bucket, limits)
            return kv
    except NotFound:
        pass
    config = KeyValueConfig(
        bucket=bucket,
        history=HISTORY,
        storage=StorageType.FILE,
        direct=True,
        max_value_size=conn.settings.max_msg_size,
        max_bytes=limits.max_bytes,
    )
    async with translated(f"bucket {bucket}"):
        return await conn.js.create_key_value(config=config)
