"""Watching one kind on the apiserver as ports.resources WatchEvents, across expired watches,
dropped connections and apiserver restarts.

The watch lists (one snapshot, in pages) and reports it as ADDED, then streams changes from the
list's resourceVersion with bookmarks on. Each event and bookmark moves the position on; when the
server ends a watch (timeoutSeconds) or the connection drops it resumes from that position; when the
position is gone (410 Gone, as an HTTP status or an ERROR event) it re-lists and diffs the snapshot
against what it already reported: vanished objects become DELETED, a new uid under a known name
becomes DELETED then ADDED, a changed resourceVersion MODIFIED, an unchanged one nothing. So every
change is reported once and in order per object, and nothing is silently lost across a gap.
While the apiserver cannot be reached it retries every `retry_wait` seconds; it ends when `closed()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, Literal

import msgspec
import structlog

from adapters.kube.bodies import decoded
from adapters.kube.client import KubeSettings
from adapters.kube.errors import KUBE_ERRORS, Expired, Status, from_status, translated
from adapters.kube.kinds import KindApi, list_all
from ports.resources import R, StoreUnavailable, WatchEvent

log = structlog.get_logger(__name__)
Key = tuple[str, str]


class _Line(msgspec.Struct):
    type: str
    object: msgspec.Raw


class _VersionMeta(msgspec.Struct, rename="camel"):
    resource_version: str = ""


class _Versioned(msgspec.Struct):
    metadata: _VersionMeta = msgspec.field(default_factory=_VersionMeta)


_lines = msgspec.json.Decoder(_Line)
_versioned = msgspec.json.Decoder(_Versioned)
_status = msgspec.json.Decoder(Status)


class KubeWatch(Generic[R]):
    """One watch of one kind (in one namespace or all); `events()` is handed to the caller."""

    def __init__(
        self,
        api: KindApi,
        kind: type[R],
        namespace: str | None,
        settings: KubeSettings,
        closed: Callable[[], bool],
    ) -> None:
        self._api, self._namespace = api, namespace
        self._kind: type[R] = kind
        self._settings, self._closed = settings, closed
        self._decoder: msgspec.json.Decoder[R] = msgspec.json.Decoder(kind)
        self._known: dict[Key, R] = {}
        self._version: str | None = None
        #: How many times the watch listed (the first list included): a test observes re-lists.
        self.lists = 0
        #: Set once the consumer has taken every event of the first list (an informer's HasSynced).
        self.synced = asyncio.Event()

    async def events(self, resume_from: str | None = None) -> AsyncIterator[WatchEvent]:
        """The events; `resume_from` starts at a known position instead of listing (tests use a
        position the apiserver no longer has to force a 410)."""
        self._version = resume_from
        while not self._closed():
            try:
                if self._version is None:
                    for event in await self._relist():
                        yield event
                    self.synced.set()
                async for event in self._stream(self._version or ""):
                    yield event
            except Expired as e:
                log.info("kube.watch.expired", kind=self._kind.__name__, error=str(e))
                self._version = None
            except StoreUnavailable as e:
                log.info("kube.watch.retry", kind=self._kind.__name__, error=str(e))
                await asyncio.sleep(self._settings.retry_wait)

    async def _relist(self) -> list[WatchEvent]:
        version, items = await list_all(self._api, self._namespace)
        self.lists += 1
        events = list(self._diffed([decoded(self._kind, item) for item in items]))
        self._version = version
        return events

    def _diffed(self, objs: list[R]) -> Iterator[WatchEvent]:
        """Events that bring the caller from what it was sent to the snapshot `objs`."""
        listed = {_key(o): o for o in objs}
        for key in sorted(self._known.keys() - listed.keys()):
            yield WatchEvent(type="DELETED", object=self._known.pop(key))
        for key in sorted(listed):
            obj, known = listed[key], self._known.get(key)
            self._known[key] = obj
            if known is None:
                yield WatchEvent(type="ADDED", object=obj)
            elif known.metadata.uid != obj.metadata.uid:
                yield WatchEvent(type="DELETED", object=known)
                yield WatchEvent(type="ADDED", object=obj)
            elif known.metadata.resource_version != obj.metadata.resource_version:
                yield WatchEvent(type="MODIFIED", object=obj)

    async def _stream(self, version: str) -> AsyncIterator[WatchEvent]:
        """The events of one watch request from `version` until the server or the network ends it."""
        async with translated(f"watch {self._kind.__name__}"):
            resp = await self._api.watch(self._namespace, version, self._settings.watch_seconds)
            try:
                await _check(resp)
                async for line in _lines_of(resp):
                    event = self._event(line)
                    if event is not None:
                        yield event
            finally:
                resp.release()

    def _event(self, line: bytes) -> WatchEvent | None:
        """The WatchEvent of one line (None for a bookmark); moves the position on."""
        try:
            raw = _lines.decode(line)
            if raw.type == "ERROR":
                status = _status.decode(raw.object)
                raise from_status(status.code, status, f"watch {self._kind.__name__}")
            if raw.type == "BOOKMARK":
                self._version = _versioned.decode(raw.object).metadata.resource_version or self._version
                return None
            obj = self._decoder.decode(raw.object)
        except msgspec.DecodeError as e:
            raise StoreUnavailable(f"watch {self._kind.__name__}: undecodable event: {e}") from e
        return self._applied(raw.type, obj)

    def _applied(self, kind: str, obj: R) -> WatchEvent | None:
        self._version = obj.metadata.resource_version or self._version
        key = _key(obj)
        if kind == "DELETED":
            self._known.pop(key, None)
            return WatchEvent(type="DELETED", object=obj)
        if kind not in ("ADDED", "MODIFIED"):
            return None
        event_type: Literal["ADDED", "MODIFIED"] = "MODIFIED" if key in self._known else "ADDED"
        self._known[key] = obj
        return WatchEvent(type=event_type, object=obj)


def _key(obj: Any) -> Key:
    return obj.metadata.namespace, obj.metadata.name


async def _check(resp: Any) -> None:
    """Raise the store error of a watch request the apiserver refused (e.g. 410 at once)."""
    if resp.status == 200:
        return
    body = await resp.read()
    try:
        status = _status.decode(body)
    except msgspec.DecodeError:
        status = Status(message=body[:500].decode(errors="replace"), code=resp.status)
    raise from_status(resp.status, status, "watch")


async def _lines_of(resp: Any) -> AsyncIterator[bytes]:
    """Newline-separated JSON documents of a streaming response, of any length (aiohttp's
    readline refuses lines over 128 KiB; a Secret may be 1 MiB)."""
    buffer = bytearray()
    try:
        async for chunk in resp.content.iter_any():
            buffer.extend(chunk)
            while (end := buffer.find(b"\n")) >= 0:
                line = bytes(buffer[:end])
                del buffer[: end + 1]
                if line.strip():
                    yield line
    except KUBE_ERRORS as e:
        raise StoreUnavailable(f"watch stream broke: {e!r}") from e
