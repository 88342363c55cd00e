"""Stopping background tasks for sure.

A cancellation that lands while a watch polls can be absorbed (seen with the KV watch on Python
3.11, where asyncio.wait_for may swallow a cancel), so one cancel() is not always enough: keep
cancelling until the task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any


async def stop_task(task: asyncio.Task[None], grace: float = 0.5) -> None:
    """Cancel `task` and wait for it to end, cancelling again while it has not."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=grace)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], grace: float = 0.5) -> None:
    """Cancel every task and wait until all have ended, cancelling again those that have not. Their
    results and errors are dropped (retrieved, so asyncio does not log them): for a `finally` that
    tears down helpers after the caller took what it needed from them."""
    every = list(tasks)
    pending = set(every)
    while pending := {t for t in pending if not t.done()}:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=grace)
    for task in every:
        if not task.cancelled():
            task.exception()
