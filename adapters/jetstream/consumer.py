"""A durable JetStream pull consumer feeding catalog events to a handler, one or N at a time.

Invariants:
- Position is the server's: a message is acked only after its handler returned, so a crash or a
  restart resumes after the last acked message (handlers must be idempotent: redelivery happens).
- One message at a time, in stream order: a batch is fetched, then handled sequentially. A message
  naked with RetryLater comes back after its delay, after later messages (at-least-once, not
  strictly ordered across retries).
- serial=True: the durable has max_ack_pending 1 and messages are fetched one by one, so the server
  hands out nothing else while a message is unacknowledged (naked with a delay included), to this
  process or to any other bound to the same durable: strictly in stream order, across retries
  and replicas (a replica that dies holding the message stops its heartbeat; it returns after
  ack_wait to whichever replica pulls next).
- With concurrency N > 1 (inflight.HandlerPool): messages are fetched for free slots only, each handled
  in its own task and settled when its handler returns, in any order; on stop, running handlers
  are cancelled and their messages handed back; a handler's unexpected exception stops the consumer.
- Fetched, unsettled messages get an in-progress heartbeat (inflight.Heartbeat), so a handler may
  run longer than ack_wait; a dead process stops the heartbeat and its messages return.
- Undecodable body, or an event off its own subject (events.subjects.on_its_subject) -> term (kept
  in the stream for inspection, never redelivered, logged): it never reaches a handler or a fold;
  RetryLater -> nak(delay); any other exception -> the rest of the batch is naked for prompt
  redelivery and the exception propagates (crash and be restarted).
- A cancel swallowed by nats-py's wait_for (Python 3.11) still ends the loop (cancelling() checked).
- Recovery: nats-py pull subscriptions can go silent after a server restart (nats-io/nats.py#504):
  the pull request in flight is lost, and a server that lost its state has no consumer any more.
  After every reconnect or fetch error the consumer is re-created (create-or-update, idempotent);
  while idle, every `stall_check` seconds consumer info is read: a consumer that is gone is
  re-created, one with pending messages while fetches return nothing also gets a fresh inbox.
  While the server is away the loop sends no pull requests and waits for the reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Sequence

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from adapters.jetstream.connection import NatsConnection
from adapters.jetstream.errors import NATS_ERRORS, NotFound, translate, translated
from adapters.jetstream.inflight import HandlerPool, Heartbeat
from adapters.jetstream.replay import ack_fields
from adapters.jetstream.streams import ensure_stream, stream_of
from adapters.jetstream.trusted import trusted
from adapters.runtime.instruments import INSTRUMENTS
from ports.bus import Handler, Received, RetryLater, StopSignal
from ports.bus_errors import BusRejected, BusUnavailable

log = structlog.get_logger(__name__)
_MIN_BACKOFF = 0.1
_MAX_BACKOFF = 5.0


class PullConsumer:
    """Runs one durable consumer until `stop` is set or a handler raises."""

    def __init__(
        self,
        conn: NatsConnection,
        durable: str,
        subjects: Sequence[str],
        handler: Handler,
        stop: StopSignal,
        concurrency: int = 1,
        *,
        serial: bool = False,
    ) -> None:
        if serial and concurrency > 1:
            raise ValueError(f"consumer {durable}: serial delivery handles one message at a time")
        self._conn = conn
        self._settings = conn.settings
        self._durable = durable
        self._stream = stream_of(subjects)
        self._config = consumer_config(conn, durable, subjects, serial=serial)
        self._batch = 1 if serial else conn.settings.fetch_batch
        self._handler = handler
        self._stop = stop
        self._sub: JetStreamContext.PullSubscription | None = None
        self._generation = -1
        self._ensured = False
        self._idle_since = time.monotonic()
        self._log = log.bind(consumer=durable, stream=self._stream)
        self._heartbeat = Heartbeat(self._settings.ack_wait)
        self._pool = HandlerPool(concurrency) if concurrency > 1 else None

    async def run(self) -> None:
        beating = asyncio.create_task(self._heartbeat.run())
        try:
            await self._loop()
        finally:
            beating.cancel()
            if self._pool is not None:
                await self._pool.close()
            await self._drop_subscription()

    async def _loop(self) -> None:
        backoff = _MIN_BACKOFF
        while not self._stop.is_set() and not _cancel_swallowed():
            size = self._batch
            if self._pool is not None:
                size = min(size, await self._pool.wait_free(self._stop))
                if self._pool.failure is not None:
                    raise self._pool.failure
                if size == 0:
                    continue
            try:
                msgs = await self._next_batch(size)
            except (BusUnavailable, NotFound) as e:
                backoff = await self._wait_for_server(e, backoff)
                continue
            backoff = _MIN_BACKOFF
            await self._handle_batch(msgs)

    async def _next_batch(self, size: int) -> list[Msg]:
        if not self._conn.is_connected:
            raise BusUnavailable("disconnected")
        sub = await self._subscription()
        async with translated(f"fetch from {self._durable}"):
            try:
                msgs = await sub.fetch(size, timeout=self._settings.fetch_timeout)
            except TimeoutError:  # nats.errors.TimeoutError or asyncio's: an idle fetch, not an outage
                msgs = []
        self._heartbeat.hold(msgs)
        if msgs:
            self._idle_since = time.monotonic()
        elif time.monotonic() - self._idle_since > self._settings.stall_check:
            await self._check_stalled()
        return msgs

    async def _wait_for_server(self, e: Exception, backoff: float) -> float:
        """Disconnected: wait for the reconnect (resume at once, re-check stop every second).
        Connected but failing (JetStream not ready, consumer gone): back off, up to 5 s."""
        if self._conn.is_closing:
            raise BusUnavailable(f"consumer {self._durable}: connection closed") from e
        self._ensured = False
        if not self._conn.is_connected:
            if backoff == _MIN_BACKOFF:
                self._log.warning("bus.consumer.waiting_for_server", error=str(e))
            await self._conn.wait_reconnected(1.0)
            return min(backoff * 2, _MAX_BACKOFF)
        self._log.warning("bus.consumer.unavailable", error=str(e), retry_in=backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), backoff)
        return min(backoff * 2, _MAX_BACKOFF)

    async def _check_stalled(self) -> None:
        """Idle for a while: fine if nothing is pending; rebuild if the consumer is gone or stuck."""
        self._idle_since = time.monotonic()
        async with translated(f"consumer info {self._durable}"):
            info = await self._conn.js.consumer_info(self._stream, self._durable)
        if info.num_pending:
            self._log.warning("bus.consumer.stalled", pending=info.num_pending)
            self._ensured = False
            await self._drop_subscription()

    async def _subscription(self) -> JetStreamContext.PullSubscription:
        """The bound subscription; after a reconnect or an error the consumer is re-ensured first.

        The inbox subscription itself is kept across reconnects (nats-py resubscribes it): pull
        requests buffered while disconnected reach the new server with that inbox as reply, and
        messages they deliver must not land on a dropped inbox (they would wait out ack_wait).
        """
        generation = self._conn.generation
        if self._sub is not None and self._ensured and self._generation == generation:
            return self._sub
        await self._ensure_consumer()
        if self._sub is None:
            async with translated(f"bind {self._durable}"):
                self._sub = await self._conn.js.pull_subscribe_bind(
                    durable=self._durable, stream=self._stream
                )
        if self._generation >= 0:
            self._log.info("bus.consumer.rebuilt", generation=generation)
        self._generation, self._ensured = generation, True
        return self._sub

    async def _ensure_consumer(self) -> None:
        """Create or update the durable consumer; recreate its stream if the server lost it."""
        try:
            async with translated(f"create consumer {self._durable}"):
                await self._conn.js.add_consumer(self._stream, self._config)
        except NotFound:
            await ensure_stream(self._conn.js, self._stream, self._settings)
            async with translated(f"create consumer {self._durable}"):
                await self._conn.js.add_consumer(self._stream, self._config)

    async def _drop_subscription(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(nats.errors.Error, ValueError):
                await sub.unsubscribe()

    async def _handle_batch(self, msgs: list[Msg]) -> None:
        if self._pool is not None:
            for msg in msgs:
                self._pool.spawn(self._handle_owned(msg))
            return
        for i, msg in enumerate(msgs):
            if self._stop.is_set():
                await _release(msgs[i:])
                return
            try:
                await self._handle(msg)
            except BaseException:
                await _release(msgs[i:])
                raise
            finally:
                self._heartbeat.forget(msg)

    async def _handle_owned(self, msg: Msg) -> None:
        """One message in its own task: handled and settled, or handed back on failure or cancel."""
        try:
            await self._handle(msg)
        except BaseException:
            await _release([msg])
            raise
        finally:
            self._heartbeat.forget(msg)

    async def _handle(self, msg: Msg) -> None:
        seq, delivered = position(msg.reply)
        event = trusted(msg.data, msg.subject, seq, self._log, "bus")
        if event is None:
            INSTRUMENTS.handled(self._durable, None, "term", 0.0)
            await _settle(msg.term())
            return
        received = Received(event=event, seq=seq, subject=msg.subject, delivered=delivered)
        started, outcome = time.monotonic(), "error"
        try:
            await self._handler(received)
            outcome = "ack"
        except RetryLater as e:
            outcome = "retry"
            self._log.info("bus.retry_later", seq=received.seq, reason=str(e), delay=e.delay)
            await _settle(msg.nak(delay=e.delay))
            return
        finally:
            INSTRUMENTS.handled(self._durable, event, outcome, time.monotonic() - started)
        await _settle(msg.ack())


def _cancel_swallowed() -> bool:
    """Whether this task was cancelled although no CancelledError reached the loop: on Python 3.11
    nats-py's asyncio.wait_for (every request, publish and ack) can swallow a cancel; the task
    still counts it. Stopping then is what the canceller asked for."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def consumer_config(
    conn: NatsConnection, durable: str, subjects: Sequence[str], *, serial: bool = False
) -> ConsumerConfig:
    s = conn.settings
    many = len(subjects) > 1
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=s.ack_wait,
        max_deliver=s.max_deliver,
        max_ack_pending=1 if serial else s.max_ack_pending,
        filter_subject=None if many else subjects[0],
        filter_subjects=list(subjects) if many else None,
    )


def position(reply: str) -> tuple[int, int]:
    """(stream sequence, delivery count) of a delivery, from its ack subject (replay.ack_fields)."""
    try:
        delivered, seq, _, _ = ack_fields(reply)
    except ValueError as e:
        raise BusRejected(str(e)) from e
    return seq, delivered


async def _settle(reply: Awaitable[None]) -> None:
    """Send an ack, nak or term, with nats-py failures translated (no context manager: hot path)."""
    try:
        await reply
    except NATS_ERRORS as e:
        raise translate(e, "acknowledge") from e


async def _release(msgs: list[Msg]) -> None:
    """Hand fetched but unhandled messages back for immediate redelivery (best effort)."""
    for msg in msgs:
        with contextlib.suppress(nats.errors.Error):
            await msg.nak()
