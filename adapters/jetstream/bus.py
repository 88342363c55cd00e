"""The Bus port over NATS JetStream (nats-py): the adapter every service uses, in both modes.

- publish: the body is the codec's JSON; headers carry Nats-Msg-Id = events.subjects.message_id
  (the stream's dedupe window drops a repeated fact and answers with the original sequence) and
  CloudEvents binary-mode attributes (`ce-specversion`, `ce-type`, `ce-source`, `ce-id`) for
  outside subscribers. publish_many pipelines a burst: every message is sent, then every ack
  awaited under one deadline.
- consume: a durable pull consumer (adapters.jetstream.consumer), explicit acks, recovery after a
  server restart.
- history: ordered replay of one subject; next_after: the next stored event on a subject above a
  sequence (adapters.jetstream.history).
- Every nats-py failure leaves this package as a ports.bus_errors class.
- Metrics: each publish the stream did not drop as a duplicate feeds adapters.runtime.instruments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from adapters.jetstream.connection import NatsConnection
from adapters.jetstream.consumer import PullConsumer
from adapters.jetstream.errors import NATS_ERRORS, translate, translated
from adapters.jetstream.history import history, next_after
from adapters.jetstream.settings import BusSettings
from adapters.jetstream.streams import ensure_streams
from adapters.runtime.instruments import INSTRUMENTS
from events.codec import AnyEvent, encode
from events.subjects import message_id, subject_of
from ports.bus import Handler, Received, StopSignal


class NatsBus:
    """Bus adapter; build it with `await NatsBus.connect(settings)`, end with `close()`."""

    def __init__(self, conn: NatsConnection) -> None:
        self._conn = conn
        self._source = conn.settings.source

    @classmethod
    async def connect(cls, settings: BusSettings) -> NatsBus:
        conn = NatsConnection(settings)
        await conn.connect()
        return cls(conn)

    @property
    def connection(self) -> NatsConnection:
        return self._conn

    async def ensure_streams(self) -> None:
        """Create or update the catalog's streams (idempotent; every process may call it)."""
        await ensure_streams(self._conn.js, self._conn.settings)

    async def publish(self, event: AnyEvent) -> int:
        subject, body, headers = self._message(event)
        try:
            ack = await self._conn.js.publish(subject, body, headers=headers)
        except NATS_ERRORS as e:
            raise translate(e, f"publish to {subject}") from e
        if not ack.duplicate:
            INSTRUMENTS.published(event)
        return int(ack.seq)

    async def publish_many(self, events: Sequence[AnyEvent]) -> list[int]:
        js = self._conn.js
        async with translated(f"publish {len(events)} events"):
            pending = []
            for event in events:
                subject, body, headers = self._message(event)
                pending.append(await js.publish_async(subject, body, headers=headers))
            acks = await asyncio.wait_for(asyncio.gather(*pending), self._conn.settings.request_timeout)
        for event, ack in zip(events, acks, strict=True):
            if not ack.duplicate:
                INSTRUMENTS.published(event)
        return [int(a.seq) for a in acks]

    async def consume(
        self,
        durable: str,
        subjects: Sequence[str],
        handler: Handler,
        stop: StopSignal,
        concurrency: int = 1,
        *,
        serial: bool = False,
    ) -> None:
        await PullConsumer(self._conn, durable, subjects, handler, stop, concurrency, serial=serial).run()

    async def history(self, subject: str) -> list[Received]:
        return await history(self._conn, subject)

    async def next_after(self, subject: str, after: int) -> Received | None:
        return await next_after(self._conn, subject, after)

    @property
    def is_connected(self) -> bool:
        return self._conn.is_connected

    async def close(self) -> None:
        await self._conn.close()

    def _message(self, event: AnyEvent) -> tuple[str, bytes, dict[str, str]]:
        mid = message_id(event)
        headers = {
            "Nats-Msg-Id": mid,
            "ce-specversion": "1.0",
            "ce-type": event.type,
            "ce-source": self._source,
            "ce-id": mid,
        }
        return subject_of(event), encode(event), headers
