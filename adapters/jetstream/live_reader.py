"""Reading a run's live log lines from core NATS (what the log-shipper publishes for `c8s logs -f`).

Live lines are not persisted: a reader sees only what is published while it is subscribed, so a
follower subscribes first and reads stored logs afterwards. Each message is a batch of masked
lines of one step, on `c8s.logs.<namespace>.<run>.<step>` (events.subjects.live_log_subject); the
reader splits it at newlines only (a carriage-return progress line stays one line), so a one-line
message of an older log-shipper reads the same.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from adapters.jetstream.connection import NatsConnection
from adapters.jetstream.errors import NATS_ERRORS, translated
from events.subjects import live_log_subject, untoken

#: Lines held while the reader is busy; beyond it the oldest are dropped (live view is best effort).
MAX_PENDING = 100_000


class LiveLogLines:
    """`async with LiveLogLines(conn, ns, run) as lines:` then `await lines.next(timeout)`."""

    def __init__(self, conn: NatsConnection, namespace: str, run: str, step: str | None = None) -> None:
        self._conn = conn
        self._subject = live_log_subject(namespace, run, step or "*")
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(MAX_PENDING)
        self._sub: Subscription | None = None

    async def __aenter__(self) -> LiveLogLines:
        async with translated(f"subscribe to {self._subject}"):
            self._sub = await self._conn.client.subscribe(self._subject, cb=self._on_message)
            await self._conn.client.flush()  # the server has the interest before we read stored logs
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(*NATS_ERRORS):
                await sub.unsubscribe()

    async def next(self, wait: float) -> tuple[str, bytes] | None:
        """The next (step, line), or None when nothing came within `wait` seconds."""
        try:
            return await asyncio.wait_for(self._queue.get(), wait)
        except TimeoutError:
            return None

    def drain(self) -> list[tuple[str, bytes]]:
        """Every line already received, without waiting."""
        lines = []
        while not self._queue.empty():
            lines.append(self._queue.get_nowait())
        return lines

    async def _on_message(self, msg: Msg) -> None:
        step = untoken(msg.subject.rsplit(".", 1)[-1])
        for line in _lines(msg.data):
            if self._queue.full():
                self._queue.get_nowait()
            self._queue.put_nowait((step, line))


def _lines(batch: bytes) -> list[bytes]:
    """The batch's lines, each with its b"\\n" (the last without, when the batch ends mid-line)."""
    parts = batch.split(b"\n")
    return [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
