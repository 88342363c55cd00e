"""Byte and age limits of every JetStream stream and KV bucket c8s creates.

Invariant: nothing c8s stores on the NATS volume grows without bound, and together the limits fit
the server's JetStream store with room to spare. A byte limit is a reservation: nats-server
refuses a stream whose limit does not fit its max store (by default 75% of the free disk; 7.5 GiB
of the 10 GiB volume deploy/400-nats.yaml claims), so the total stays near 3 GiB: 2 GiB + 256 MiB
of streams, 128 MiB of delivery log, 704 MiB of local-mode resource buckets. docs/operations.md
says why each value. Streams discard their oldest messages at the limit (history ages out);
KV buckets refuse new writes instead (nats-py creates them with discard "new"): a resource or a
delivery record is never dropped silently, a write fails and the caller answers 503.

`bucket_limited` also brings a bucket created before these limits up to them (a KV bucket's
stream is `KV_<bucket>`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nats.js import JetStreamContext

from events.subjects import RUN_STREAM, WEBHOOK_STREAM

MiB = 1024 * 1024
GiB = 1024 * MiB
DAY = 86400.0


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    #: Seconds; 0 keeps messages whatever their age (for state, not history).
    max_age: float


STREAM_LIMITS: dict[str, Limits] = {
    RUN_STREAM: Limits(max_bytes=2 * GiB, max_age=30 * DAY),
    WEBHOOK_STREAM: Limits(max_bytes=256 * MiB, max_age=7 * DAY),
}
#: The delivery log's age is its TTL (`delivery_ttl_seconds`), set by the webhook.
DELIVERY_LOG_BYTES = 128 * MiB
#: Local mode's resource buckets: state, never aged out.
RESOURCE_BUCKET_BYTES = {"c8s_pipelineruns": 512 * MiB}
RESOURCE_BUCKET_DEFAULT_BYTES = 64 * MiB


def resource_bucket_limits(bucket: str) -> Limits:
    return Limits(max_bytes=RESOURCE_BUCKET_BYTES.get(bucket, RESOURCE_BUCKET_DEFAULT_BYTES), max_age=0)


async def bucket_limited(js: JetStreamContext, bucket: str, limits: Limits) -> None:
    """Set the limits of the existing bucket `bucket` when they differ (nats-py errors propagate)."""
    info = await js.stream_info(f"KV_{bucket}")
    config = info.config
    if (config.max_bytes, config.max_age or 0) == (limits.max_bytes, limits.max_age):
        return
    await js.update_stream(dataclasses.replace(config, max_bytes=limits.max_bytes, max_age=limits.max_age))
