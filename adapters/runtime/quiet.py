"""Noticing that a stream has gone quiet: the timer behind the live log's idle flush.

`with_quiet(source, seconds)` yields `source`'s items unchanged and in order, and `None` each time
`seconds` pass without an item, so a consumer can act on silence (the log-shipper releases what
the masker held back, steps.masking.Masker.release). The source is read by one pending `anext`
that a timeout never cancels (cancelling an async generator mid-read would end it), so no item is
lost or reordered; closing the wrapper cancels that read and closes the source.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")


async def with_quiet(source: AsyncIterator[T], seconds: float) -> AsyncIterator[T | None]:
    """`source`'s items, and None whenever `seconds` pass without one."""
    pending: asyncio.Task[tuple[bool, T | None]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.create_task(_next(source))
            done, _ = await asyncio.wait({pending}, timeout=seconds)
            if not done:
                yield None
                continue
            more, item = pending.result()
            pending = None
            if not more:
                return
            yield item
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()


async def _next(source: AsyncIterator[T]) -> tuple[bool, T | None]:
    try:
        return True, await anext(source)
    except StopAsyncIteration:
        return False, None
