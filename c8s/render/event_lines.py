"""One line per stored event for `c8s events`: `<seq> <time> <type> <details>`. Pure; the details
are projections.event_details' (the dashboard shows the same)."""

from __future__ import annotations

from ports.bus import Received
from projections.event_details import details, timestamp


def event_line(received: Received) -> str:
    event = received.event
    parts = [str(received.seq), timestamp(event.at), event.type, *details(event)]
    return " ".join(parts)
