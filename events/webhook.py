"""The webhook-delivery aggregate: what the webhook receiver decided about each provider delivery.

Every delivery ends in exactly one of these, accepted or rejected, so `c8s events` and outside
subscribers can see why a push did or did not start a run.
"""

from __future__ import annotations

from msgspec import field

from events.base import Event


class WebhookEvent(Event, frozen=True, kw_only=True):
    provider: str
    delivery: str


class WebhookAccepted(WebhookEvent, frozen=True, kw_only=True, tag="webhook.accepted"):
    """A delivery was verified and matched; `runs` lists the PipelineRuns it created."""

    event: str
    namespace: str
    connection: str
    repository: str
    commit: str = ""
    branch: str = ""
    runs: list[str] = field(default_factory=list)


class WebhookRejected(WebhookEvent, frozen=True, kw_only=True, tag="webhook.rejected"):
    """A delivery was refused or ignored; `status` is the HTTP status answered to the provider."""

    status: int
    reason: str
    namespace: str = ""
    connection: str = ""
    repository: str = ""


WebhookEvents = WebhookAccepted | WebhookRejected
