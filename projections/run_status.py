"""The PipelineRun status fold: events of one run -> `PipelineRunStatus`.

Invariants (pinned by tests/property/test_run_status_machine.py):
- idempotent: an event at or below `observed_sequence` changes nothing, so redelivery and replay
  from any point give the same status; a repeated fact under a new sequence changes nothing either;
- terminal is terminal: once the phase is Succeeded, Failed or Cancelled the status never changes;
- consistent: a terminal run has no Pending or Running step; a Running step means a Running run;
- times come from the events (`at`), never from a clock.

The fold never mutates its input: it returns new Structs (msgspec.structs.replace).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from msgspec.structs import replace

from api.pipelinerun import (
    TERMINAL_RUN_PHASES,
    TERMINAL_STEP_PHASES,
    ConditionStatus,
    PipelineRunStatus,
    StepStatus,
)
from events.run import (
    ArtifactUploaded,
    LogShipped,
    RunAccepted,
    RunCancelled,
    RunCancelRequested,
    RunEvent,
    RunFinished,
    RunRejected,
    RunRequested,
    RunTimedOut,
    StepEvent,
    StepFinished,
    StepScheduled,
    StepSkipped,
    StepStarted,
)
from projections.conditions import SUCCEEDED, set_condition

Status = PipelineRunStatus


def initial() -> Status:
    return PipelineRunStatus()


def evolve(status: Status, seq: int, event: RunEvent) -> Status:
    """Fold one stored event (stream sequence `seq`) into the status."""
    if seq <= status.observed_sequence or status.phase in TERMINAL_RUN_PHASES:
        return status
    folded = _apply(status, event)
    if isinstance(event, StepEvent):
        folded = _running(folded, event.at)
    return replace(folded, observed_sequence=seq)


def fold(events: Iterable[tuple[int, RunEvent]], status: Status | None = None) -> Status:
    state = status if status is not None else initial()
    for seq, event in events:
        state = evolve(state, seq, event)
    return state


def _requested(s: Status, e: RunRequested) -> Status:
    return _progress(s, "Pending", e.at)


def _accepted(s: Status, e: RunAccepted) -> Status:
    known = {st.name for st in s.steps}
    steps = list(s.steps) + [StepStatus(name=st.name) for st in e.snapshot.steps if st.name not in known]
    return _progress(replace(s, steps=steps), "Accepted", e.at)


def _rejected(s: Status, e: RunRejected) -> Status:
    conditions = set_condition(s.conditions, "False", e.reason, e.message, e.at)
    steps = [_settle(st, e.at) for st in s.steps]
    return replace(s, phase="Failed", completion_time=e.at, steps=steps, conditions=conditions)


def _cancel_requested(s: Status, e: RunCancelRequested) -> Status:
    return _progress(
        s, "CancelRequested", e.at, f"cancel requested by {e.by}" if e.by else "cancel requested"
    )


def _cancelled(s: Status, e: RunCancelled) -> Status:
    return _progress(s, "Cancelling", e.at, e.message)


def _timed_out(s: Status, e: RunTimedOut) -> Status:
    return _progress(s, "TimingOut", e.at, f"pipeline timeout {e.timeout} exceeded")


def _finished(s: Status, e: RunFinished) -> Status:
    steps = [_settle(st, e.at) for st in s.steps]
    truth: ConditionStatus = "True" if e.phase == "Succeeded" else "False"
    conditions = set_condition(s.conditions, truth, e.reason, e.message, e.at)
    return replace(
        s,
        phase=e.phase,
        start_time=s.start_time or e.at,
        completion_time=e.at,
        steps=steps,
        conditions=conditions,
    )


def _settle(step: StepStatus, at: datetime) -> StepStatus:
    """A step still open when the run ends: a started one failed with it, a pending one never ran."""
    if step.phase in TERMINAL_STEP_PHASES:
        return step
    if step.phase == "Running":
        return replace(step, phase="Failed", completion_time=at, reason=step.reason or "RunEnded")
    return replace(step, phase="Skipped", reason=step.reason or "RunEnded")


def _scheduled(s: Status, e: StepScheduled) -> Status:
    def name_job(st: StepStatus) -> StepStatus:
        # The first job name reported wins: a step has one workload.
        return st if st.job_name or not e.job_name else replace(st, job_name=e.job_name)

    return _on_step(s, e.step, name_job)


def _started(s: Status, e: StepStarted) -> Status:
    def start(st: StepStatus) -> StepStatus:
        if st.phase != "Pending":
            return st
        return replace(st, phase="Running", start_time=e.at, job_name=st.job_name or e.job_name or None)

    return _on_step(s, e.step, start)


def _step_finished(s: Status, e: StepFinished) -> Status:
    def finish(st: StepStatus) -> StepStatus:
        if st.phase in TERMINAL_STEP_PHASES:
            return st
        return replace(
            st,
            phase="Succeeded" if e.succeeded else "Failed",
            start_time=st.start_time or e.at,
            completion_time=e.at,
            exit_code=e.exit_code,
            reason=e.reason or None,
        )

    return _on_step(s, e.step, finish)


def _skipped(s: Status, e: StepSkipped) -> Status:
    def skip(st: StepStatus) -> StepStatus:
        if st.phase in TERMINAL_STEP_PHASES:
            return st
        return replace(st, phase="Skipped", reason=e.reason or None)

    return _on_step(s, e.step, skip)


def _log_shipped(s: Status, e: LogShipped) -> Status:
    return _on_step(s, e.step, lambda st: replace(st, log_url=e.url))


def _artifact(s: Status, e: ArtifactUploaded) -> Status:
    def add(st: StepStatus) -> StepStatus:
        if e.url in st.artifact_urls:
            return st
        return replace(st, artifact_urls=[*st.artifact_urls, e.url])

    return _on_step(s, e.step, add)


def _on_step(s: Status, name: str, change: Callable[[StepStatus], StepStatus]) -> Status:
    """Apply `change` to the named step; events for steps the run does not have change nothing."""
    steps = [change(st) if st.name == name else st for st in s.steps]
    return s if steps == s.steps else replace(s, steps=steps)


def _running(s: Status, at: datetime) -> Status:
    """A run is Running from the moment any step has a workload or left Pending."""
    if s.phase != "Pending" or not any(st.phase != "Pending" or st.job_name for st in s.steps):
        return s
    return _progress(replace(s, phase="Running", start_time=s.start_time or at), "Running", at)


#: How far a non-terminal run has come. The Succeeded condition only moves forward, so a fact
#: republished late (outside the dedupe window) can never move it back.
_PROGRESS = {"Pending": 0, "Accepted": 1, "Running": 2, "CancelRequested": 3, "Cancelling": 4, "TimingOut": 4}


def _progress(s: Status, reason: str, at: datetime, message: str = "") -> Status:
    current = next((c.reason for c in s.conditions if c.type == SUCCEEDED), None)
    if current is not None and _PROGRESS.get(current, 0) >= _PROGRESS[reason]:
        return s
    return replace(s, conditions=set_condition(s.conditions, "Unknown", reason, message, at))


def _apply(s: Status, e: RunEvent) -> Status:
    match e:
        case RunRequested():
            return _requested(s, e)
        case RunAccepted():
            return _accepted(s, e)
        case RunRejected():
            return _rejected(s, e)
        case RunCancelRequested():
            return _cancel_requested(s, e)
        case RunCancelled():
            return _cancelled(s, e)
        case RunTimedOut():
            return _timed_out(s, e)
        case RunFinished():
            return _finished(s, e)
        case StepScheduled():
            return _scheduled(s, e)
        case StepStarted():
            return _started(s, e)
        case StepFinished():
            return _step_finished(s, e)
        case StepSkipped():
            return _skipped(s, e)
        case LogShipped():
            return _log_shipped(s, e)
        case ArtifactUploaded():
            return _artifact(s, e)
    return s
