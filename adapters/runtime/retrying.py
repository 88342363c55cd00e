"""Outages are retryable: a consumer handler wrapper that naks with a delay instead of crashing.

A backend that is briefly unreachable (resource store, object storage) is not a bug in the
message: the handler's message is redelivered after `delay` and nothing is lost. Anything else
still propagates and crashes the consumer, to be restarted by the supervisor.
"""

from __future__ import annotations

from ports.bus import Handler, Received, RetryLater
from ports.objects import ObjectStoreUnavailable
from ports.resources import StoreUnavailable

OUTAGES = (StoreUnavailable, ObjectStoreUnavailable)


def retry_outages(handler: Handler, delay: float = 2.0) -> Handler:
    async def handle(received: Received) -> None:
        try:
            await handler(received)
        except OUTAGES as e:
            raise RetryLater(f"{type(e).__name__}: {e}", delay=delay) from e

    return handle
