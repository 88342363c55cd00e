"""The delivery-log port: which webhook deliveries already started their runs.

A provider may send one delivery again, seconds or hours later (a retry, a manual redelivery).
The webhook records a delivery only after its runs exist, and answers a recorded one with
"duplicate delivery" without creating anything. Records expire after the adapter's TTL (days):
the deterministic run names still catch a retry that comes later than that. The same log keeps
the replay keys of accepted bodies (services/webhook/screening.py), with the delivery id as value.

Adapter: NATS KV (adapters/jetstream/kv/deliveries.py). Failures are ports.resources errors
(StoreUnavailable when the backend cannot be reached).
"""

from __future__ import annotations

from typing import Protocol


class DeliveryLog(Protocol):
    async def seen(self, key: str) -> bool:
        """Whether `key` (`<provider>.<delivery>`) was recorded and has not expired."""
        ...

    async def value(self, key: str) -> bytes | None:
        """What was recorded under `key`, or None when nothing was (or it expired)."""
        ...

    async def record(self, key: str, value: bytes) -> None:
        """Record `key` once; recording it again changes nothing (create-only)."""
        ...
