"""One asyncio lock per key (a run, a step, a connection), kept only while someone holds or waits.

For consumers that handle several messages at once but must handle those of one key one at a
time: `async with locks.held(key)` queues on the key's lock (asyncio locks are FIFO, so handlers
that reach it in delivery order get it in that order); `waiting(key)` is how many handlers are
queued behind the holder, which lets a holder do their work ahead (the projector folds what they
carry in one write). A key's entry is dropped when its last user leaves, so the table stays as
small as what is in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def held(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def waiting(self, key: Hashable) -> int:
        """Handlers queued on `key` besides the one holding it."""
        _, users = self._locks.get(key, (None, 0))
        return max(users - 1, 0)

    def __len__(self) -> int:
        return len(self._locks)
