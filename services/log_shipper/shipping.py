"""One step's log from its source to object storage and the live subjects, masked on the way.

Invariants: only the masker's output is written or published, and the object becomes visible
(writer.close) only after the source ended and the masker was flushed; any failure or
cancellation aborts the writer, so the key holds either a previous complete log or nothing.
At most `max_bytes` of masked output are stored and published; past them, one marker line
(`truncated_marker`) and nothing more, while the source is still read to its end (the step is
not held back, and LogShipped still means the output ended). When the source has been quiet for
`quiet_seconds`, what the masker held back and can safely let go (Masker.release: never a possible
secret's start) is emitted, so a quiet step's last line goes live. Live messages carry many lines each
(steps.live_batches); object writes are gathered into WRITE_SIZE pieces (each write is a hop to
a worker thread: per 64 KiB chunk that hop cost more than masking).

`still_wanted`, when given, is asked once the source ended and before the object becomes visible;
False aborts the write and ship returns None. The log-shipper asks "is this step's LogShipped
still missing from the run's history?": a second delivery of a StepStarted on another replica
that reached the raw output only after the first delivery shipped and released it has read an
empty or cut output, and must not replace the complete log the first one stored. (The first
delivery publishes LogShipped before it releases the output, so a copy that read a released
output always finds it.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from msgspec import Struct

from adapters.runtime.quiet import with_quiet
from ports.live import LiveLog
from ports.objects import ObjectWriter
from steps.live_batches import LineBatcher
from steps.masking import Masker
from steps.plans import StepRef

WRITE_SIZE = 1024 * 1024


class Shipped(Struct, frozen=True, kw_only=True):
    url: str
    bytes: int


def truncated_marker(limit: int) -> bytes:
    return b"[c8s] log truncated: the step printed more than %d bytes; the rest is not stored\n" % limit


async def ship(
    ref: StepRef,
    source: AsyncIterator[bytes],
    masker: Masker,
    writer: ObjectWriter,
    live: LiveLog,
    max_bytes: int | None = None,
    quiet_seconds: float | None = None,
    still_wanted: Callable[[], Awaitable[bool]] | None = None,
) -> Shipped | None:
    out = _Output(ref, writer, live, max_bytes)
    chunks = source if quiet_seconds is None else with_quiet(source, quiet_seconds)
    try:
        async for chunk in chunks:
            if not out.full:
                await out.emit(masker.release() if chunk is None else masker.feed(chunk))
        if not out.full:
            await out.emit(masker.flush())
        await out.end()
        if still_wanted is not None and not await still_wanted():
            await writer.abort()
            return None
        return Shipped(url=await writer.close(), bytes=out.size)
    except BaseException:
        await writer.abort()
        raise


class _Output:
    """Masked bytes to the object (as they come) and to the live subject (batches of lines)."""

    def __init__(self, ref: StepRef, writer: ObjectWriter, live: LiveLog, max_bytes: int | None) -> None:
        self._ref, self._writer, self._live, self._max = ref, writer, live, max_bytes
        self._batches = LineBatcher()
        self.size = 0
        self.full = False
        self._line_ended = True
        self._pending: list[bytes] = []
        self._pending_size = 0

    async def emit(self, data: bytes) -> None:
        if self._max is not None and self.size + len(data) > self._max:
            data = self._cut(data, self._max)
        if not data:
            return
        await self._write(data)
        self.size += len(data)
        self._line_ended = data.endswith(b"\n")
        for batch in self._batches.feed(data):
            await self._live.publish(self._ref, batch)

    def _cut(self, data: bytes, limit: int) -> bytes:
        self.full = True
        kept = data[: limit - self.size]
        ended = kept.endswith(b"\n") if kept else self._line_ended
        return kept + (b"" if ended else b"\n") + truncated_marker(limit)

    async def _write(self, data: bytes, *, force: bool = False) -> None:
        self._pending.append(data)
        self._pending_size += len(data)
        if force or self._pending_size >= WRITE_SIZE:
            await self._writer.write(b"".join(self._pending))
            self._pending, self._pending_size = [], 0

    async def end(self) -> None:
        await self._write(b"", force=True)
        for batch in self._batches.flush():
            await self._live.publish(self._ref, batch)
