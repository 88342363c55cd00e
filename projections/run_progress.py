"""What a service knows of one run: the one fold of a run's events every service reads a run by.

`fold_run(events, uid)` over the run's history (ports.bus.run_history) gives a RunProgress: the
run context (spec, accepted config snapshot: steps.plans plans a step from it), each step's
progress in the API's step vocabulary (plus Scheduled: a Job or process exists, not started yet),
cancel/timeout, the final RunFinished, and which notifications are settled. The scheduler decides
from it, the runner and log-shipper plan steps from it, the notifier reports from it.

Idempotent by content (a repeated fact changes nothing), so the state can be rebuilt from the run's
history at any time: no service keeps state of its own beyond a cache of these folds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Literal

from msgspec import Struct, field
from msgspec.structs import replace

from events.notification import Channel, NotificationEvent, Transition
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

StepPhase = Literal["Pending", "Scheduled", "Running", "Succeeded", "Failed", "Skipped"]
SETTLED: frozenset[str] = frozenset({"Succeeded", "Failed", "Skipped"})
Settled = tuple[Channel, Transition]


class StepProgress(Struct, frozen=True, kw_only=True):
    phase: StepPhase = "Pending"
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
    finished: RunFinished | None = None
    rejected: RunRejected | None = None
    #: Notifications already sent or given up on: (channel, transition).
    settled: frozenset[Settled] = frozenset()

    @property
    def accepted(self) -> bool:
        return self.ctx.snapshot is not None

    @property
    def commit(self) -> str:
        return self.ctx.spec.commit if self.ctx.spec is not None else ""

    @property
    def repository(self) -> str:
        return self.ctx.snapshot.repository if self.ctx.snapshot is not None else ""

    @property
    def config(self) -> str:
        """The config's name: from the acceptance, or the spec's ref for a rejected run."""
        spec = self.ctx.spec
        return self.ctx.config or (spec.pipeline_config_ref if spec is not None else "")

    @property
    def ended(self) -> RunFinished | RunRejected | None:
        """How the run ended: finished, or rejected before it started; None while it has not."""
        return self.finished or self.rejected

    def is_settled(self, channel: Channel, transition: Transition) -> bool:
        return (channel, transition) in self.settled


def fold_run(events: Iterable[RunEvent], uid: str) -> RunProgress:
    """The state of the run `uid` (events of an earlier run with the same name are skipped)."""
    state = RunProgress()
    for event in events:
        if event.uid == uid:
            state = evolve(state, event)
    return state


def evolve(state: RunProgress, event: RunEvent) -> RunProgress:
    state = replace(state, ctx=run_context.evolve(state.ctx, event))
    match event:
        case RunAccepted():
            known = {s.name: state.steps.get(s.name, StepProgress()) for s in event.snapshot.steps}
            return replace(state, steps=known)
        case RunFinished():
            return replace(state, done=True, finished=state.finished or event)
        case RunRejected():
            return replace(state, done=True, rejected=state.rejected or event)
        case NotificationEvent():
            return replace(state, settled=state.settled | {(event.channel, event.transition)})
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
                state, event.step, lambda p: p if p.phase in SETTLED else replace(p, phase="Skipped")
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
    return replace(p, phase="Scheduled") if p.phase == "Pending" else p


def _started(p: StepProgress) -> StepProgress:
    if p.phase in ("Pending", "Scheduled"):
        return replace(p, phase="Running", ran=True)
    return p


def _finished(p: StepProgress, e: StepFinished) -> StepProgress:
    if p.phase in SETTLED:
        return p
    phase: StepPhase = "Succeeded" if e.succeeded else "Failed"
    return replace(p, phase=phase, ended_at=e.at, exit_code=e.exit_code, reason=e.reason)
