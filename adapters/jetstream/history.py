"""Replay of one subject's stored events, in stream order, without a durable consumer.

An ephemeral, unacknowledged, in-memory consumer reads from the first message on the subject up
to the stream's last sequence at call time (events stored meanwhile are left for the next call),
in pulls of adapters.jetstream.replay.BATCH messages (replay.py: why not nats-py's fetch), then is
deleted. Undecodable messages, and events on a subject that is not their own
(events.subjects.on_its_subject), are logged and skipped: history returns typed events, each
published by an identity allowed to state it.

next_after reads the first stored event on a subject above a stream sequence in one request to the
stream leader (STREAM.MSG.GET with next_by_subj, never a possibly lagging direct-get replica), so a
reader learns whether anything on that subject lies between two sequences it knows of.
"""

from __future__ import annotations

import contextlib
import uuid

import nats.errors
import nats.js.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy

from adapters.jetstream.connection import NatsConnection
from adapters.jetstream.errors import translated
from adapters.jetstream.replay import read_to_end
from adapters.jetstream.streams import stream_of
from adapters.jetstream.trusted import trusted
from ports.bus import Received

log = structlog.get_logger(__name__)


async def history(conn: NatsConnection, subject: str) -> list[Received]:
    stream = stream_of([subject])
    js = conn.js
    out: list[Received] = []

    def take(stored_on: str, data: bytes, seq: int) -> None:
        event = trusted(data, stored_on, seq, log, "bus.history")
        if event is not None:
            out.append(Received(event=event, seq=seq, subject=stored_on, delivered=1))

    async with translated(f"history of {subject}"):
        last = (await js.stream_info(stream)).state.last_seq
        name = f"history-{uuid.uuid4().hex}"
        info = await js.add_consumer(stream, _replay_config(name, subject, conn.settings.request_timeout))
        try:
            if info.num_pending:
                await read_to_end(conn.client, stream, name, last, take, conn.settings.request_timeout)
        finally:
            await _delete(js, stream, name)
    return out


async def next_after(conn: NatsConnection, subject: str, after: int) -> Received | None:
    """The first decodable event stored on its own subject, matching `subject` (wildcards allowed,
    e.g. a run's `c8s.run.<ns>.<run>.>`), with a stream sequence above `after`."""
    stream = stream_of([subject])
    while True:
        async with translated(f"next on {subject} after {after}"):
            try:
                msg = await conn.js.get_msg(stream, seq=after + 1, subject=subject, next=True)
            except nats.js.errors.NotFoundError:
                return None
        seq = after = msg.seq or 0
        event = trusted(msg.data or b"", msg.subject or "", seq, log, "bus.history")
        if event is not None:
            return Received(event=event, seq=seq, subject=msg.subject or subject, delivered=1)


def _replay_config(name: str, subject: str, timeout: float) -> ConsumerConfig:
    return ConsumerConfig(
        name=name,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.NONE,
        replay_policy=ReplayPolicy.INSTANT,
        filter_subject=subject,
        mem_storage=True,
        num_replicas=1,
        # The server removes it on its own if this process dies mid-replay.
        inactive_threshold=max(30.0, 4 * timeout),
    )


async def _delete(js: JetStreamContext, stream: str, name: str) -> None:
    with contextlib.suppress(nats.errors.Error):
        await js.delete_consumer(stream, name)
