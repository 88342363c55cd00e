"""Stopping background tasks for sure.

A cancellation that lands while a watch polls can be absorbed (seen with the KV watch on Python
3.11, where asyncio.wait_for may swallow a cancel), so one cancel() is not always enough: keep
cancelling until the task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib


async def stop_task(task: asyncio.Task[None], grace: float = 0.5) -> None:
    """Cancel `task` and wait for it to end, cancelling again while it has not."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=grace)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
