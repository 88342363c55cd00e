"""The RepositoryConnection status fold: webhook decisions -> `status.lastEvent`.

Only accepted deliveries move lastEvent (a rejected one says nothing true about the repository);
the newest by event time wins, so replays and out-of-order folds give the same answer.
"""

from __future__ import annotations

from msgspec.structs import replace

from api.repositoryconnection import LastEvent, RepositoryConnectionStatus
from events.webhook import WebhookAccepted, WebhookEvent


def evolve(status: RepositoryConnectionStatus, seq: int, event: WebhookEvent) -> RepositoryConnectionStatus:
    if seq <= status.observed_sequence:
        return status
    status = replace(status, observed_sequence=seq)
    if not isinstance(event, WebhookAccepted):
        return status
    last = status.last_event
    if last is not None and last.timestamp is not None and last.timestamp > event.at:
        return status
    return replace(
        status, last_event=LastEvent(type=event.event, commit=event.commit or None, timestamp=event.at)
    )
