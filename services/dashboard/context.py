"""Everything a dashboard request handler needs, built once per process by __main__ (or a test)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ports.live import LiveLines
from services.dashboard.actions import Csrf
from services.dashboard.authorizing import Gate, Policy
from services.dashboard.live import RunFeed
from services.dashboard.reading import Reader

#: (namespace, run) -> a reader of the run's live log lines, every step.
LiveLinesOf = Callable[[str, str], LiveLines]


@dataclass(frozen=True)
class Context:
    reader: Reader
    feed: RunFeed
    live_lines: LiveLinesOf
    csrf: Csrf
    #: Who a Re-run is triggered by (local mode has no login: "dashboard").
    actor: str = "dashboard"
    #: Who may see and do what; the default (no access port) is local mode's: everything.
    gate: Gate = field(default_factory=lambda: Gate(None, Policy()))
