"""Polling with a deadline, the only way tests here wait for the cluster to reach a state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0


async def eventually(check: Callable[[], Awaitable[T]], *, what: str, within: float = DEFAULT_TIMEOUT,
                     interval: float = 0.2) -> T:
    """Await ``check()`` until it returns something truthy and return that; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what} (last: {result!r})")
        await asyncio.sleep(interval)
