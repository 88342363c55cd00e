"""Step slots: at most `size` steps of this runner at once, and a first-come queue for the rest.

A StepScheduled beyond the limit waits here for a slot (woken the moment a step ends, not after a
redelivery delay) instead of being handed back; at most `queue` wait at once, and none longer
than the caller's limit, so a busy runner still hands steps back to the stream (and to a replica
with free slots). A released slot passes straight to the oldest waiter: `used` counts the steps
holding one, and a waiter that gave up (timeout, cancellation) never holds one.
`take` adds a step without waiting (re-attached steps: they run already, whatever the limit).
`refuses` says, without waiting, that `acquire` would give up at once (every slot used, the
queue full), so a caller can hand a step back before doing any work for it.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Slots:
    def __init__(self, size: int, queue: int) -> None:
        self.size, self.queue = size, queue
        self.used = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def refuses(self) -> bool:
        """Whether `acquire` would return False at once: no free slot and no room in the queue."""
        return (self.used >= self.size or bool(self._waiters)) and len(self._waiters) >= self.queue

    def take(self) -> None:
        self.used += 1

    async def acquire(self, limit: float) -> bool:
        """A slot (True), waiting up to `limit` seconds; False when the queue is full or none freed."""
        if self.used < self.size and not self._waiters:
            self.used += 1
            return True
        if len(self._waiters) >= self.queue:
            return False
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(handed)
        try:
            await asyncio.wait_for(asyncio.shield(handed), limit)
        except TimeoutError:
            return self._gave_up(handed)
        except BaseException:
            if self._gave_up(handed):
                self.release()  # handed over as the caller was cancelled: pass it on
            raise
        return True

    def release(self) -> None:
        """A step ended: its slot goes to the oldest waiter, else back to the pool."""
        while self._waiters:
            handed = self._waiters.popleft()
            if not handed.done():
                handed.set_result(None)
                return
        self.used -= 1

    def _gave_up(self, handed: asyncio.Future[None]) -> bool:
        """Leave the queue; a slot handed over meanwhile is kept (True) by the caller."""
        if handed.done():
            return True
        handed.cancel()
        self._waiters.remove(handed)
        return False
