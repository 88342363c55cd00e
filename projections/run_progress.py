"""The scheduler's view of one run: a pure fold of the run's events into what it needs to decide.

Idempotent by content (a repeated fact changes nothing), so the state can be rebuilt from the run's
history at any time: the scheduler keeps no state of its own beyond a cache of these folds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from msgspec import Struct, field
from msgspec.structs import replace

from events.run import (
    LogShipped,
    RunAccepted,
    RunCancelled,
    RunCancelRequested,
    RunEvent,
    RunFinished,
    RunRejected,
    RunTimedOut,
    StepFinished,
    StepScheduled,
    StepSkipped,
    StepStarted,
)
from projections import run_context
from projections.run_context import RunContext

StepPhase = Literal["waiting", "scheduled", "running", "succeeded", "failed", "skipped"]
SETTLED: frozenset[str] = frozenset({"succeeded", "failed", "skipped"})


class StepProgress(Struct, frozen=True, kw_only=True):
    phase: StepPhase = "waiting"
    ran: bool = False
    log_shipped: bool = False
    ended_at: datetime | None = None
    exit_code: int | None = None
    reason: str = ""


class RunProgress(Struct, frozen=True, kw_only=True):
    ctx: RunContext = field(default_factory=RunContext)
    steps: dict[str, StepProgress] = field(default_factory=dict)
    cancel_requested: str | None = None
    stopping: Literal["", "cancelled", "timed-out"] = ""
    done: bool = False

    @property
    def accepted(self) -> bool:
        return self.ctx.snapshot is not None


def evolve(state: RunProgress, event: RunEvent) -> RunProgress:
    state = replace(state, ctx=run_context.evolve(state.ctx, event))
    match event:
        case RunAccepted():
            known = {s.name: state.steps.get(s.name, StepProgress()) for s in event.snapshot.steps}
            return replace(state, steps=known)
        case RunRejected() | RunFinished():
            return replace(state, done=True)
        case RunCancelRequested():
            return state if state.cancel_requested is not None else replace(state, cancel_requested=event.by)
        case RunCancelled():
            return state if state.stopping else replace(state, stopping="cancelled")
        case RunTimedOut():
            return state if state.stopping else replace(state, stopping="timed-out")
        case StepScheduled():
            return _step(state, event.step, _scheduled)
        case StepStarted():
            return _step(state, event.step, _started)
        case StepFinished():
            return _step(state, event.step, lambda p: _finished(p, event))
        case StepSkipped():
            return _step(
                state, event.step, lambda p: p if p.phase in SETTLED else replace(p, phase="skipped")
            )
        case LogShipped():
            return _step(state, event.step, lambda p: replace(p, log_shipped=True))
    return state


def _step(state: RunProgress, name: str, change: Callable[[StepProgress], StepProgress]) -> RunProgress:
    if name not in state.steps:
        return state
    steps = dict(state.steps)
    steps[name] = change(steps[name])
    return replace(state, steps=steps)


def _scheduled(p: StepProgress) -> StepProgress:
    return replace(p, phase="scheduled") if p.phase == "waiting" else p


def _started(p: StepProgress) -> StepProgress:
    if p.phase in ("waiting", "scheduled"):
        return replace(p, phase="running", ran=True)
    return p


def _finished(p: StepProgress, e: StepFinished) -> StepProgress:
    if p.phase in SETTLED:
        return p
    phase: StepPhase = "succeeded" if e.succeeded else "failed"
    return replace(p, phase=phase, ended_at=e.at, exit_code=e.exit_code, reason=e.reason)
