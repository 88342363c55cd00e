"""The delivery log over a NATS KV bucket (`c8s_deliveries`): create-only keys with a bucket TTL.

`record` is a KV create, so two replicas racing on one delivery store it once and neither fails;
entries expire with the bucket's max age, and the bucket holds at most DELIVERY_LOG_BYTES (a full
log refuses new records: the webhook answers 503). nats-py failures leave as ports.resources errors.
"""

from __future__ import annotations

from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from adapters.jetstream.connection import NatsConnection
from adapters.jetstream.kv.errors import translated
from adapters.jetstream.limits import DELIVERY_LOG_BYTES, Limits, bucket_limited
from ports.resources import Conflict, NotFound, StoreError

BUCKET = "c8s_deliveries"


class KvDeliveryLog:
    """DeliveryLog adapter; build it with `await KvDeliveryLog.open(connection, ttl_seconds)`."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(cls, conn: NatsConnection, ttl_seconds: float, bucket: str = BUCKET) -> KvDeliveryLog:
        limits = Limits(max_bytes=DELIVERY_LOG_BYTES, max_age=ttl_seconds)
        try:
            async with translated(f"bucket {bucket}"):
                kv = await conn.js.key_value(bucket)
                await bucket_limited(conn.js, bucket, limits)
                return cls(kv)
        except NotFound:
            pass
        config = KeyValueConfig(
            bucket=bucket, history=1, ttl=ttl_seconds, max_bytes=DELIVERY_LOG_BYTES, storage=StorageType.FILE
        )
        try:
            async with translated(f"bucket {bucket}"):
                return cls(await conn.js.create_key_value(config=config))
        except StoreError:  # another replica created it first
            async with translated(f"bucket {bucket}"):
                return cls(await conn.js.key_value(bucket))

    async def seen(self, key: str) -> bool:
        return await self.value(key) is not None

    async def value(self, key: str) -> bytes | None:
        try:
            async with translated(f"delivery {key}"):
                entry = await self._kv.get(key)
        except NotFound:
            return None
        return entry.value

    async def record(self, key: str, value: bytes) -> None:
        try:
            async with translated(f"record delivery {key}"):
                await self._kv.create(key, value)
        except Conflict:
            return
