"""What a pull consumer holds between fetch and settle: heartbeats past ack_wait, and a bounded
pool of handler tasks for consumers that handle several messages at once.

- Heartbeat: every fetched message not yet settled gets `+WPI` (in progress) every ack_wait/4
  once it has been held that long, so a handler may run for hours (a long step's log) without the
  server redelivering its message; a process that dies stops the heartbeats, and the message comes
  back after ack_wait as before. Best effort: a heartbeat that cannot be sent is skipped.
- HandlerPool: at most `size` handler tasks; `wait_free` blocks while it is full (or until stop);
  the first unexpected exception of a task is kept in `failure` for the consumer loop to raise;
  `close` cancels what still runs (each task hands its own message back).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Coroutine, Iterable
from typing import Any

import nats.errors
from nats.aio.msg import Msg

from ports.bus import StopSignal


class Heartbeat:
    def __init__(self, ack_wait: float) -> None:
        self._period = ack_wait / 4
        self._held: dict[int, tuple[Msg, float]] = {}  # Msg is an unhashable dataclass: key by id

    def hold(self, msgs: Iterable[Msg]) -> None:
        now = time.monotonic()
        for msg in msgs:
            self._held[id(msg)] = (msg, now)

    def forget(self, msg: Msg) -> None:
        self._held.pop(id(msg), None)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            await self.beat(time.monotonic())

    async def beat(self, now: float) -> None:
        for key, (msg, since) in list(self._held.items()):
            if now - since >= self._period and key in self._held:
                with contextlib.suppress(nats.errors.Error, OSError):
                    await msg.in_progress()
                if key in self._held:
                    self._held[key] = (msg, now)


class HandlerPool:
    def __init__(self, size: int) -> None:
        self._size = size
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self.failure: BaseException | None = None

    @property
    def free(self) -> int:
        return self._size - len(self._tasks)

    async def wait_free(self, stop: StopSignal) -> int:
        """Free slots (at least one), or 0 once `stop` is set or a task failed."""
        while self.free <= 0 and self.failure is None and not stop.is_set():
            self._changed.clear()
            await _first(self._changed.wait(), stop.wait())
        return 0 if self.failure is not None or stop.is_set() else self.free

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._changed.set()
        if not task.cancelled() and task.exception() is not None and self.failure is None:
            self.failure = task.exception()


async def _first(*waits: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
