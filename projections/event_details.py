"""An event's facts as text (`c8s events` lines, the dashboard's event history). Pure.

Details are the event's own facts as `key=value` (camelCase, as on the wire): step, exit code,
reason, URL, ... The identity every run event repeats (namespace, run, uid) is left out, and so
are bulky values (a config snapshot); a run request shows its commit and branch instead of its spec.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from events.base import Event
from events.run import RunAccepted, RunRequested

#: Fields shown elsewhere on the line or identical for every event of the run.
_HIDDEN = frozenset({"at", "namespace", "run", "uid", "spec", "snapshot"})


def timestamp(at: datetime) -> str:
    """UTC, RFC 3339 with milliseconds: 2025-10-12T10:30:00.123Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def details(event: Event) -> list[str]:
    found = [_pair(f.encode_name, getattr(event, f.name)) for f in msgspec.structs.fields(event)]
    found += _summary(event)
    return [d for d in found if d]


def _summary(event: Event) -> list[str]:
    if isinstance(event, RunRequested):
        return [_pair("commit", event.spec.commit), _pair("branch", event.spec.branch)]
    if isinstance(event, RunAccepted):
        return [_pair("steps", ",".join(s.name for s in event.snapshot.steps))]
    return []


def _pair(key: str, value: object) -> str:
    if key in _HIDDEN or value is None or value == "" or value == []:
        return ""
    if isinstance(value, list):
        value = ",".join(map(str, value))
    elif isinstance(value, bool):
        value = str(value).lower()
    elif not isinstance(value, str | int | float):
        return ""
    text = str(value)
    return f"{key}={_quoted(text)}"


def _quoted(text: str) -> str:
    """Values with spaces are quoted, so a line still splits into its fields."""
    return f'"{text}"' if not text or any(c.isspace() or c == '"' for c in text) else text
