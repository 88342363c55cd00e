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
