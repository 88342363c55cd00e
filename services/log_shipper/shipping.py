"""One step's log from its source to object storage and the live subjects, masked on the way.

Invariant: only the masker's output is written or published, and the object becomes visible
(writer.close) only after the source ended and the masker was flushed; any failure or
cancellation aborts the writer, so the key holds either a previous complete log or nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from msgspec import Struct

from ports.live import LiveLog
from ports.objects import ObjectWriter
from steps.masking import LineSplitter, Masker
from steps.plans import StepRef


class Shipped(Struct, frozen=True, kw_only=True):
    url: str
    bytes: int


async def ship(
    ref: StepRef, source: AsyncIterator[bytes], masker: Masker, writer: ObjectWriter, live: LiveLog
) -> Shipped:
    out = _Output(ref, writer, live)
    try:
        async for chunk in source:
            await out.emit(masker.feed(chunk))
        await out.emit(masker.flush())
        await out.end()
        return Shipped(url=await writer.close(), bytes=out.size)
    except BaseException:
        await writer.abort()
        raise


class _Output:
    """Masked bytes to the object (as they come) and to the live subject (line by line)."""

    def __init__(self, ref: StepRef, writer: ObjectWriter, live: LiveLog) -> None:
        self._ref, self._writer, self._live = ref, writer, live
        self._lines = LineSplitter()
        self.size = 0

    async def emit(self, data: bytes) -> None:
        if not data:
            return
        await self._writer.write(data)
        self.size += len(data)
        for line in self._lines.feed(data):
            await self._live.publish(self._ref, line)

    async def end(self) -> None:
        for line in self._lines.flush():
            await self._live.publish(self._ref, line)
