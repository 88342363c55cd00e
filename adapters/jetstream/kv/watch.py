"""Watching one KV bucket as Kubernetes-style watch events, across nats-server restarts.

A KV watcher (an ordered consumer, last value per key) first delivers the current entries, then
every change. The snapshot becomes ADDED events; live entries become ADDED (a key not seen before),
MODIFIED, or DELETED (a delete/purge marker, carrying the last known object). nats-py's ordered
consumer does not reliably come back after a server restart, so after every reconnect (the
connection's `generation` grows) the watcher is replaced and the new snapshot diffed against what
was already delivered: newer entries are re-sent, vanished keys become DELETED. Revisions already
delivered are skipped, so no change is reported twice and none is reported out of order per key.

Every watcher's consumer is deleted when the watcher stops (stop_watcher), and is made with a
short inactive threshold (CONSUMER_IDLE_SECONDS) for when that delete never comes (the process
died, the server was away, nats-py's ordered consumer replaced it after a gap). Unsubscribing alone
leaves the consumer on the server for nats-py's default threshold of 5 minutes, and every
`KvStore.list` is such a watcher: a scheduler accepting a burst of runs (one RepositoryConnection
list each) piled up 1,000 idle consumers on one bucket within seconds, the server refused the next
one (err 10026, "maximum consumers limit reached"), and the scheduler crashed and stalled until
the oldest expired, 5 minutes later (issue 14, bench/README.md "Memory per service").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Generic, Literal

import structlog
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from adapters.jetstream.connection import NatsConnection
from adapters.jetstream.errors import NATS_ERRORS
from adapters.jetstream.kv.errors import translated
from adapters.jetstream.kv.objects import Codec
from ports.resources import R, StoreUnavailable, WatchEvent

log = structlog.get_logger(__name__)
#: A watcher's consumer is removed by the server once nobody has listened on it for this long
#: (nobody at all when its stop's delete was lost); a live watcher always listens.
CONSUMER_IDLE_SECONDS = 30.0
Entry = KeyValue.Entry
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


def is_marker(entry: Entry) -> bool:
    return entry.operation in (KV_DEL, KV_PURGE)


async def open_watcher(kv: KeyValue, pattern: str, wait: float) -> tuple[KeyValue.KeyWatcher, list[Entry]]:
    """A started watcher and the current entries it delivered first (markers included), each
    awaited for at most `wait` seconds."""
    async with translated(f"watch {kv._name} {pattern}"):
        watcher = await kv.watch(pattern, inactive_threshold=max(CONSUMER_IDLE_SECONDS, 4 * wait))
        try:
            return watcher, await _initial(kv, pattern, watcher, wait)
        except BaseException:
            await stop_watcher(watcher)
            raise


async def _initial(kv: KeyValue, pattern: str, watcher: KeyValue.KeyWatcher, wait: float) -> list[Entry]:
    """Every current entry. nats-py may signal the end of the snapshot (None) *before* the
    entries when the server pushed them all before its consumer_info call (num_pending is then
    0 and none was handled yet), so the marker alone is not trusted: the snapshot ends at the
    entry with nothing pending after it, or at the marker when the bucket has no such keys."""
    entries: list[Entry] = []
    while True:
        entry = await next_update(watcher, wait)
        if entry is None:
            if entries or not await _has_keys(kv, pattern):
                return entries
            continue
        entries.append(entry)
        if entry.delta == 0:
            return entries


async def _has_keys(kv: KeyValue, pattern: str) -> bool:
    info = await kv._js.stream_info(kv._stream, subjects_filter=f"{kv._pre}{pattern}")
    return bool(info.state.subjects)


async def next_update(watcher: KeyValue.KeyWatcher, wait: float) -> Entry | None:
    """The watcher's next entry; None marks the end of the initial entries (or a stopped watcher).
    Raises TimeoutError after `wait` seconds without one. Not `watcher.updates()`: its wait_for
    can swallow a cancellation of the caller on Python 3.11; asyncio.timeout cannot."""
    async with asyncio.timeout(wait):
        entry: object = await watcher._updates.get()
    return entry if isinstance(entry, Entry) else None


async def stop_watcher(watcher: KeyValue.KeyWatcher) -> None:
    """Unsubscribe, then delete the watcher's consumer (its current one: an ordered consumer
    names a new one after a gap). Best effort: the inactive threshold is the backstop."""
    sub = watcher._sub
    with contextlib.suppress(*NATS_ERRORS):
        await watcher.stop()  # type: ignore[no-untyped-call]
    if sub is not None:
        with contextlib.suppress(*NATS_ERRORS):
            await sub._js.delete_consumer(sub._stream, sub._consumer)


class KvWatch(Generic[R]):
    """One watch of one bucket; `events()` is the async iterator handed to the caller."""

    def __init__(
        self,
        conn: NatsConnection,
        kv: KeyValue,
        pattern: str,
        codec: Codec[R],
        stopped: Callable[[], bool],
        poll: float = 0.2,
    ) -> None:
        self._conn, self._kv, self._pattern = conn, kv, pattern
        self._codec: Codec[R] = codec
        self._stopped, self._poll = stopped, poll
        self._timeout = conn.settings.request_timeout
        self._known: dict[str, tuple[int, R]] = {}

    async def events(self) -> AsyncGenerator[WatchEvent, None]:
        generation = self._conn.generation
        watcher, entries = await open_watcher(self._kv, self._pattern, self._timeout)
        try:
            for event in self._relisted(entries):
                yield event
            while not self._ended():
                if self._conn.generation != generation:
                    await stop_watcher(watcher)
                    reopened = await self._reopen()
                    if reopened is None:
                        return
                    generation, watcher, entries = reopened
                    for event in self._relisted(entries):
                        yield event
                    continue
                entry = await self._next(watcher)
                live = None if entry is None else self._live(entry)
                if live is not None:
                    yield live
        finally:
            await stop_watcher(watcher)

    def _ended(self) -> bool:
        return self._stopped() or self._conn.is_closing

    async def _next(self, watcher: KeyValue.KeyWatcher) -> Entry | None:
        """The next live entry, or None after `poll` seconds so reconnects are noticed."""
        try:
            return await next_update(watcher, self._poll)
        except TimeoutError:
            return None

    async def _reopen(self) -> tuple[int, KeyValue.KeyWatcher, list[Entry]] | None:
        """A new watcher after a reconnect, retried while the server is still away; None once
        the store or connection is closed."""
        while not self._ended():
            await self._conn.wait_reconnected(self._timeout)
            generation = self._conn.generation
            try:
                watcher, entries = await open_watcher(self._kv, self._pattern, self._timeout)
            except StoreUnavailable as e:
                log.info("kv.watch.retry", bucket=self._kv._name, error=str(e))
                await asyncio.sleep(self._conn.settings.reconnect_time_wait)
                continue
            log.info("kv.watch.reopened", bucket=self._kv._name, generation=generation)
            return generation, watcher, entries
        return None

    def _relisted(self, entries: list[Entry]) -> Iterator[WatchEvent]:
        """Events that bring the caller from what it was sent to the snapshot `entries`."""
        live = {e.key: e for e in entries if not is_marker(e)}
        for key in sorted(self._known.keys() - live.keys()):
            _, obj = self._known.pop(key)
            yield WatchEvent(type="DELETED", object=obj)
        for key in sorted(live):
            event = self._upsert(live[key], "MODIFIED" if key in self._known else "ADDED")
            if event is not None:
                yield event

    def _live(self, entry: Entry) -> WatchEvent | None:
        if not is_marker(entry):
            return self._upsert(entry, "MODIFIED" if entry.key in self._known else "ADDED")
        known = self._known.get(entry.key)
        if known is None or known[0] >= (entry.revision or 0):
            return None
        del self._known[entry.key]
        return WatchEvent(type="DELETED", object=known[1])

    def _upsert(self, entry: Entry, kind: EventType) -> WatchEvent | None:
        """ADDED/MODIFIED for an entry newer than the last one delivered for its key, else None."""
        revision = entry.revision or 0
        known = self._known.get(entry.key)
        if known is not None and known[0] >= revision:
            return None
        obj = self._codec.decode(entry.value, revision, entry.key)
        self._known[entry.key] = (revision, obj)
        return WatchEvent(type=kind, object=obj)
