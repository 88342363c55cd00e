"""Reading an unacknowledged replay consumer to its end in large pull batches (Bus.history).

Why not nats-py's `PullSubscription.fetch`: a fetch does return a whole batch (256 of 256 on a
replay), but it waits for each message with `asyncio.wait_for` (a task and a timer per message),
and reading `Msg.metadata` converts a timestamp per message: ~50 µs an event on the 2-CPU bench
machine against ~15-20 µs here, which is what bounds rebuilding every status from the stream
(bench/rebuild.py, bench/README.md). A cProfile of the fetch loop shows about one `fetch` call per
message: cProfile counts every resumption of a coroutine as a call, not a request per message.

How: one pull request at a time for `BATCH` messages, answered into an inbox whose callback takes
each message as nats-py parses it (no wait per message); the next request goes out when the
batch is complete, or when the server ended the request early (408, expired) after delivering
part of it. The reader stops at the first message above `last` (events stored after the call
began are left for the next call), at `last`, or when the ack subject's pending count says the
consumer holds nothing more. Nothing is dropped silently: the inbox has no client-side pending
limit (nats-py would drop messages past one, as a slow consumer), memory is bounded by the batch,
and the consumer sequence must run 1, 2, 3, ... (a gap raises). A request that expires with
nothing delivered, a 409 (consumer deleted, leadership change, server shutdown) and a silence
longer than 1.5 expiries raise BusUnavailable.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg

from ports.bus_errors import BusError, BusUnavailable

#: Messages per pull request: one round trip per BATCH messages; memory bounded by it.
BATCH = 1000

Take = Callable[[str, bytes, int], None]


def ack_fields(reply: str) -> tuple[int, int, int, int]:
    """(delivery count, stream sequence, consumer sequence, pending) from a JetStream ack subject,
    either format: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending> (9 tokens)
    or $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.... (11 or 12 tokens).
    Only these fields, without the timestamp conversion Msg.metadata does: it is per message."""
    tokens = reply.split(".")
    if len(tokens) == 9:
        first = 4
    elif len(tokens) >= 11 and tokens[0] == "$JS":
        first = 6
    else:
        raise ValueError(f"not a JetStream delivery: reply subject {reply!r}")
    delivered, sseq, cseq, _, pending = tokens[first : first + 5]
    return int(delivered), int(sseq), int(cseq), int(pending)


async def read_to_end(nc: Client, stream: str, consumer: str, last: int, take: Take, expires: float) -> None:
    """Hand every message of the consumer up to stream sequence `last` to `take(subject, data,
    seq)`, in order; returns once the end is reached (module docstring)."""
    reader = _Reader(nc, f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}", last, take, expires)
    sub = await nc.subscribe(reader.inbox, cb=reader.on_message, pending_msgs_limit=0, pending_bytes_limit=0)
    try:
        await reader.request()
        await reader.finished()
    finally:
        await sub.unsubscribe()


class _Reader:
    def __init__(self, nc: Client, next_subject: str, last: int, take: Take, expires: float) -> None:
        self._nc, self._next, self._last, self._take, self._expires = nc, next_subject, last, take, expires
        self.inbox = nc.new_inbox()
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._received = 0  # consumer deliveries seen (the consumer sequence of the latest)
        self._in_request = 0  # deliveries of the current request

    async def request(self) -> None:
        self._in_request = 0
        body = {"batch": BATCH, "expires": int(self._expires * 1e9)}
        await self._nc.publish(self._next, json.dumps(body).encode(), reply=self.inbox)

    async def finished(self) -> None:
        """Until the end is reached; BusUnavailable after a silence longer than a request's expiry
        (the server answers an expired request with a 408: a longer silence is a lost server)."""
        silence = self._expires * 1.5
        while True:
            seen = self._received
            try:
                await asyncio.wait_for(asyncio.shield(self._done), silence)
                return
            except TimeoutError:
                if self._received == seen:
                    raise BusUnavailable(f"{self._next}: no message for {silence:.1f} s") from None

    async def on_message(self, msg: Msg) -> None:
        if self._done.done():
            return
        try:
            if msg.reply:
                await self._delivered(msg)
            else:
                await self._status(msg)
        except BusError as e:
            self._fail(e)
        except Exception as e:  # nats-py would hand it to its error callback: the reader must see it
            self._fail(BusUnavailable(f"{self._next}: {e!r}"))

    async def _delivered(self, msg: Msg) -> None:
        _, seq, cseq, pending = ack_fields(msg.reply)
        if cseq != self._received + 1:
            raise BusUnavailable(f"{self._next}: delivery {cseq} after {self._received}: messages lost")
        self._received, self._in_request = cseq, self._in_request + 1
        if seq > self._last:
            self._end()
            return
        self._take(msg.subject, msg.data, seq)
        if seq == self._last or pending == 0:
            self._end()
        elif self._in_request == BATCH:
            await self.request()

    async def _status(self, msg: Msg) -> None:
        headers = msg.headers or {}
        status, description = headers.get("Status", ""), headers.get("Description", "")
        if status == "100":  # an idle heartbeat (none is asked for)
            return
        if status == "408" and self._in_request:  # expired after part of the batch: ask again
            await self.request()
            return
        raise BusUnavailable(f"{self._next}: {status} {description}".rstrip())

    def _end(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    def _fail(self, e: BusError) -> None:
        if not self._done.done():
            self._done.set_exception(e)
