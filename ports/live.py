"""The live-log port: masked log lines of a running step, for `c8s logs -f`, best effort.

Each publish carries one batch: one or more lines of the step's output, in order (the last may be
a piece of a longer line; steps.live_batches). Readers split it into lines.

Not a record: lines are published on core NATS (events.subjects.live_log_subject), never stored;
a subscriber that is not listening misses them and reads the shipped object instead. A restarted
log-shipper ships a step's log again from byte 0, so live subscribers may see lines twice.
Only masked bytes may reach this port.

Contract: publish never raises for a transport problem (a lost line is acceptable, a stalled
shipper is not). A LiveLines reader sees the lines published after it was entered (the server
has its interest when __aenter__ returns, so a reader that subscribes, then reads the stored log,
misses nothing in between except what it chooses to de-duplicate).
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from steps.plans import StepRef


class LiveLog(Protocol):
    async def publish(self, ref: StepRef, lines: bytes) -> None: ...


class LiveLines(Protocol):
    """`async with live_lines(...) as lines:` then `await lines.next(wait)` -> (step, line) or None."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def next(self, wait: float) -> tuple[str, bytes] | None: ...
