"""Reading a request body under three bounds, hashing it as it streams.

Invariants: no body is held beyond `max_body_bytes` (413); the bodies held by the whole process
never exceed the budget's bytes (a declared Content-Length is reserved before the first byte is
read, a chunked body chunk by chunk; a request that does not fit is answered 503 with Retry-After
at once, without waiting, so a flood of large unsigned bodies costs a bounded amount of memory);
a body that does not arrive within `seconds` is answered 408 (a slow sender holds a socket
and its reservation for no longer than that). The SHA-256 of the body is computed chunk by chunk
while it is read: the replay check keys on it without a second pass over the body.

The signature cannot be checked before the body is complete: which secret to use depends on the
repository named inside the body. The budget is what bounds memory before it is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Literal

from aiohttp import web
from msgspec import Struct

_CHUNK = 64 * 1024
Shed = Literal["too-large", "busy", "too-slow"]


class Body(Struct, frozen=True):
    """A complete body and the hex SHA-256 of its bytes."""

    data: bytes
    digest: str


class Budget:
    """The bytes of bodies the process holds at once; reservations never wait (on the event loop's
    thread only, so no lock)."""

    def __init__(self, total: int) -> None:
        self.total, self.held = total, 0

    def reserve(self, size: int) -> bool:
        if self.held + size > self.total:
            return False
        self.held += size
        return True

    def release(self, size: int) -> None:
        self.held -= size


class _Reading:
    def __init__(self, budget: Budget, limit: int) -> None:
        self.budget, self.limit = budget, limit
        self.reserved = self.size = 0
        self.chunks: list[bytes] = []
        self.sha = hashlib.sha256()

    def take(self, chunk: bytes) -> Shed | None:
        """Keep `chunk`, or say why the body cannot be kept."""
        self.size += len(chunk)
        if self.size > self.limit:
            return "too-large"
        if self.size > self.reserved:
            if not self.budget.reserve(self.size - self.reserved):
                return "busy"
            self.reserved = self.size
        self.chunks.append(chunk)
        self.sha.update(chunk)
        return None

    def body(self) -> Body:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return Body(data, self.sha.hexdigest())


@contextlib.asynccontextmanager
async def read_body(
    request: web.Request, limit: int, budget: Budget, seconds: float
) -> AsyncIterator[Body | Shed]:
    """The body (held against the budget until the block ends), or why it was not read whole."""
    reading = _Reading(budget, limit)
    try:
        yield await _read(request, reading, seconds)
    finally:
        budget.release(reading.reserved)


async def _read(request: web.Request, reading: _Reading, seconds: float) -> Body | Shed:
    declared = request.content_length
    if declared is not None and declared > reading.limit:
        return "too-large"
    if declared and not reading.budget.reserve(declared):
        return "busy"
    reading.reserved = declared or 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.content.iter_chunked(_CHUNK):
                if shed := reading.take(chunk):
                    return shed
    except TimeoutError:
        return "too-slow"
    return reading.body()
