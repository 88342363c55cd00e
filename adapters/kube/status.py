"""Coalescing of status writes per object: several writes for one object become one PATCH.

Every patch_status call joins the batch of its object (kind, namespace, name, uid). A batch is
sent by one flusher task: it waits `linger` seconds (0: just until the callers already running
have joined), takes the newest status of the batch (highest observedSequence; the latest call on a
tie) and writes it once; calls that arrive while that PATCH is in flight form the next batch. Every
caller of a batch gets the batch's result (the written object, None when the store dropped it as
stale, or its exception), so a caller returns only once a status at least as new as its own is
stored: acknowledging an event after patch_status returned stays safe. An older status than the
batch's newest is never sent, and the write itself still refuses to go behind the stored
observedSequence (kube_store), so coalescing can only skip intermediate states, never reorder them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ports.resources import AnyStatus

Key = tuple[type[Any], str, str, str | None]
Write = Callable[[Key, AnyStatus], Awaitable[Any]]


@dataclass
class _Batch:
    status: AnyStatus
    waiters: list[asyncio.Future[Any]] = field(default_factory=list)

    def join(self, status: AnyStatus) -> asyncio.Future[Any]:
        if status.observed_sequence >= self.status.observed_sequence:
            self.status = status
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        return waiter

    def settle(self, result: Any, error: BaseException | None) -> None:
        for waiter in self.waiters:
            if waiter.done():
                continue  # its caller was cancelled
            if isinstance(error, asyncio.CancelledError):
                waiter.cancel()
            elif error is None:
                waiter.set_result(result)
            else:
                waiter.set_exception(error)


class StatusWriter:
    """Coalesces `write(key, status)` calls per key; `writes` counts the writes actually made."""

    def __init__(self, write: Write, linger: float = 0.0) -> None:
        self._write, self._linger = write, linger
        self._pending: dict[Key, _Batch] = {}
        self._flushers: dict[Key, asyncio.Task[None]] = {}
        self.calls = 0
        self.writes = 0

    async def submit(self, key: Key, status: AnyStatus) -> Any:
        """The result of the write that carried `status` or a newer status for the same key."""
        self.calls += 1
        batch = self._pending.get(key)
        if batch is None:
            batch = self._pending[key] = _Batch(status)
        waiter = batch.join(status)
        if key not in self._flushers:
            self._flushers[key] = asyncio.create_task(self._flush(key))
        return await waiter

    async def _flush(self, key: Key) -> None:
        try:
            await asyncio.sleep(self._linger)
            while (batch := self._pending.pop(key, None)) is not None:
                self.writes += 1
                try:
                    result = await self._write(key, batch.status)
                except asyncio.CancelledError as e:
                    batch.settle(None, e)
                    raise
                except Exception as e:
                    batch.settle(None, e)
                else:
                    batch.settle(result, None)
        finally:
            del self._flushers[key]

    async def close(self) -> None:
        """Cancel the flushers; their callers see CancelledError."""
        for key, task in list(self._flushers.items()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            batch = self._pending.pop(key, None)
            if batch is not None:
                batch.settle(None, asyncio.CancelledError())
