"""LiveLog over core NATS: one message per batch of masked lines on live_log_subject(namespace, run,
step) (many lines per message: a publish per line capped a chatty step at ~0.4 MB/s).

Plain publishes on the process's connection (no JetStream, no ack): nats-py buffers them and
flushes in the background; a failure is logged at debug level and the line dropped (ports/live.py).
"""

from __future__ import annotations

import nats.errors
import structlog

from adapters.jetstream.connection import NatsConnection
from events.subjects import live_log_subject
from steps.plans import StepRef

log = structlog.get_logger(__name__)


class NatsLiveLog:
    def __init__(self, conn: NatsConnection) -> None:
        self._conn = conn

    async def publish(self, ref: StepRef, lines: bytes) -> None:
        try:
            await self._conn.client.publish(live_log_subject(ref.namespace, ref.run, ref.step), lines)
        except (nats.errors.Error, OSError) as e:
            log.debug("live_log.dropped", error=repr(e))
