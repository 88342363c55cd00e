"""Webhook receiver configuration (environment `C8S_*`, checked at start-up)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from adapters.runtime.settings import CommonSettings

MiB = 1024 * 1024
DAY = 86400.0


class WebhookSettings(CommonSettings, frozen=True, kw_only=True):
    #: Where the receiver listens; loopback by default (put a TLS proxy or ingress in front).
    listen_host: str = "127.0.0.1"
    listen_port: Annotated[int, Meta(ge=0, le=65535)] = 8080
    #: Larger bodies are refused with 413 (GitHub caps its payloads at 25 MB as well).
    max_body_bytes: Annotated[int, Meta(gt=0)] = 25 * MiB
    #: How long a handled delivery id is remembered (a redelivery within it answers "duplicate").
    delivery_ttl_seconds: Annotated[float, Meta(gt=0)] = 7 * DAY
    #: Answer within this, or 503 (providers give up after 10 s and retry later).
    deadline_seconds: Annotated[float, Meta(gt=0, lt=10)] = 8.0
    #: A request line and headers not all received within this of the connection's start (or of
    #: the previous response on it) close the connection (slow senders hold no socket for longer).
    header_timeout_seconds: Annotated[float, Meta(gt=0)] = 10.0
    #: A body not received whole within this answers 408 (providers send within their 10 s).
    body_timeout_seconds: Annotated[float, Meta(gt=0)] = 10.0
    #: The bytes of request bodies held at once by the process; beyond it 503 with Retry-After.
    #: At least max_body_bytes, or the largest allowed body could never be read.
    in_flight_bytes: Annotated[int, Meta(gt=0)] = 64 * MiB
    #: Rejections of unverified requests published per second and source address (burst 20), and
    #: for all sources together (burst 200); the others are counted in
    #: c8s_webhook_rejections_suppressed_total and not published.
    rejections_per_source: Annotated[float, Meta(gt=0)] = 1.0
    rejections_total: Annotated[float, Meta(gt=0)] = 20.0

    def __post_init__(self) -> None:
        if self.in_flight_bytes < self.max_body_bytes:
            raise ValueError(
                f"C8S_IN_FLIGHT_BYTES ({self.in_flight_bytes}) must be at least "
                f"C8S_MAX_BODY_BYTES ({self.max_body_bytes})"
            )
