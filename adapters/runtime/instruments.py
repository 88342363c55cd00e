"""c8s's metrics, defined once, and where the adapters feed them.

The bus adapters report every event they hand to a handler (`handled`: count by consumer, event
type and outcome; latency; lag = now - event.at) and every event they publish that the stream did
not already hold (`published`: a duplicate publish, dropped by Nats-Msg-Id, counts nothing, so the
webhook-delivery and log-byte counters count facts, not attempts). The projector reports the phase
each run enters (`run_entered_phase`). Names follow Prometheus conventions (`_total`, `_seconds`,
`_bytes`); label values are bounded (consumers, event types, providers, phases, outcomes).
"""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.runtime.metrics import REGISTRY, Registry
from events.codec import AnyEvent
from events.run import LogShipped
from events.webhook import WebhookAccepted, WebhookRejected


class Instruments:
    def __init__(self, registry: Registry) -> None:
        self.events_handled = registry.counter(
            "c8s_events_handled_total",
            "Events handled by a durable consumer, by outcome (ack, retry, term, error)",
            ("consumer", "type", "outcome"),
        )
        self.handler_seconds = registry.histogram(
            "c8s_handler_seconds", "Time a consumer's handler took per event", ("consumer",)
        )
        self.event_lag = registry.gauge(
            "c8s_event_lag_seconds",
            "Now minus the event's time, for the latest event a consumer handled (projector lag)",
            ("consumer",),
        )
        self.runs_entered = registry.counter(
            "c8s_runs_entered_phase_total", "PipelineRuns whose status entered a phase", ("phase",)
        )
        self.webhook_deliveries = registry.counter(
            "c8s_webhook_deliveries_total",
            "Webhook deliveries by provider and outcome (accepted, or rejected-<HTTP status>)",
            ("provider", "outcome"),
        )
        self.webhook_rejections_suppressed = registry.counter(
            "c8s_webhook_rejections_suppressed_total",
            "Rejections of unverified webhook requests not published (over the sampling rate)",
            ("provider",),
        )
        self.webhook_requests_shed = registry.counter(
            "c8s_webhook_requests_shed_total",
            "Webhook requests answered before their body was read whole (busy: 503, too-slow: 408)",
            ("reason",),
        )
        self.log_bytes = registry.counter(
            "c8s_log_bytes_shipped_total", "Bytes of masked step logs written to object storage"
        )

    def handled(self, consumer: str, event: AnyEvent | None, outcome: str, seconds: float) -> None:
        kind = event.type if event is not None else "undecodable"
        self.events_handled.inc(consumer=consumer, type=kind, outcome=outcome)
        self.handler_seconds.observe(seconds, consumer=consumer)
        if event is not None:
            lag = (datetime.now(UTC) - _aware(event.at)).total_seconds()
            self.event_lag.set(max(0.0, lag), consumer=consumer)

    def published(self, event: AnyEvent) -> None:
        if isinstance(event, WebhookAccepted):
            self.webhook_deliveries.inc(provider=event.provider, outcome="accepted")
        elif isinstance(event, WebhookRejected):
            # The HTTP status, not the free-text reason: label values must stay few.
            self.webhook_deliveries.inc(provider=event.provider, outcome=f"rejected-{event.status}")
        elif isinstance(event, LogShipped):
            self.log_bytes.inc(event.bytes)

    def run_entered_phase(self, phase: str) -> None:
        self.runs_entered.inc(phase=phase)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


#: The process's instruments, on the process's registry.
INSTRUMENTS = Instruments(REGISTRY)
