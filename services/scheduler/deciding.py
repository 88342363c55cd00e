"""The scheduler's decisions: given what a run has done so far (and the time), what to do next.

`decide(state, now, log_grace, quotas)` is pure and level-triggered: it looks at the whole state, not at
the event that woke it, so calling it again on the same state asks for the same things, and
every effect it asks for is idempotent (deterministic job names, Nats-Msg-Id on every event).

Rules:
- a step starts when every step it depends on has settled and its conditions hold:
  `conditional.branch` must match the run's branch; with `onSuccess: true` (the default) every
  dependency must have succeeded, otherwise the step is skipped (DependencyFailed); with
  `onSuccess: false` it runs whatever its dependencies did (a cleanup step);
- a ready step starts only if its requests (cpu, memory, one pod) fit what the namespace's
  ResourceQuotas have free, less what this decision already starts; otherwise it keeps waiting and
  a later decision (the next event or tick) starts it once capacity is freed. The quotas are an
  input like `now`: the service reads them and charges the steps it has in flight;
- cancellation (requested) and the pipeline timeout stop the run: running steps are cancelled,
  waiting ones skipped;
- the run finishes when every step settled and every step that ran has its log shipped (or the
  log grace passed, so a dead log-shipper cannot hold a run forever): Cancelled if cancelled,
  Failed on timeout or any failed step, Succeeded otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from msgspec import Struct

from api.branches import branch_matches
from api.dag import topological_order
from api.durations import parse_duration
from api.pipelineconfig import Step
from api.quotas import Quota, beyond_free, pod_demand
from events.run import FinalPhase, RunCancelled, RunEvents, RunFinished, RunIdentity, RunTimedOut, StepSkipped
from projections.run_progress import SETTLED, RunProgress
from steps.plans import StepPlan, StepRef, plan, step_ref


class StartStep(Struct, frozen=True, kw_only=True):
    plan: StepPlan


class CancelStep(Struct, frozen=True, kw_only=True):
    ref: StepRef


class Publish(Struct, frozen=True, kw_only=True):
    event: RunEvents


Decision = StartStep | CancelStep | Publish


def decide(
    state: RunProgress, now: datetime, log_grace: timedelta, quotas: Sequence[Quota] = ()
) -> list[Decision]:
    """What to do next; `quotas` are the namespace's, with `used` covering every step in flight."""
    if state.done or not state.accepted:
        return []
    stop = _stop(state, now)
    if stop:
        return stop
    if state.stopping:
        return _finish(state, now, log_grace)
    return _advance(state, now, quotas) or _finish(state, now, log_grace)


def in_flight(states: Iterable[RunProgress]) -> dict[str, Decimal]:
    """What the scheduled and running steps of `states` take (cpu, memory, pods), summed."""
    taken: dict[str, Decimal] = {}
    for state in states:
        snapshot = state.ctx.snapshot
        for step in snapshot.steps if snapshot is not None else ():
            progress = state.steps.get(step.name)
            if progress is not None and progress.phase in ("Scheduled", "Running"):
                taken = _plus(taken, pod_demand(step))
    return taken


def deadline(state: RunProgress) -> datetime | None:
    """When the pipeline timeout passes (None before acceptance)."""
    ctx = state.ctx
    if ctx.snapshot is None or ctx.accepted_at is None:
        return None
    return ctx.accepted_at + timedelta(seconds=parse_duration(ctx.snapshot.timeout))


def _stop(state: RunProgress, now: datetime) -> list[Decision]:
    if state.stopping:
        return []
    ident = _ident(state, now)
    if state.cancel_requested is not None:
        by = f" by {state.cancel_requested}" if state.cancel_requested else ""
        return [
            Publish(event=RunCancelled(message=f"cancelled{by}", **ident)),
            *_halt(state, now, "Cancelled"),
        ]
    limit = deadline(state)
    if limit is not None and now >= limit:
        assert state.ctx.snapshot is not None
        timed_out = RunTimedOut(timeout=state.ctx.snapshot.timeout, **ident)
        return [Publish(event=timed_out), *_halt(state, now, "PipelineTimeout")]
    return []


def _halt(state: RunProgress, now: datetime, reason: str) -> list[Decision]:
    out: list[Decision] = []
    for name, step in state.steps.items():
        if step.phase == "Pending":
            out.append(Publish(event=StepSkipped(step=name, reason=reason, **_ident(state, now))))
        elif step.phase in ("Scheduled", "Running"):
            out.append(CancelStep(ref=step_ref(state.ctx, name)))
    return out


def _advance(state: RunProgress, now: datetime, quotas: Sequence[Quota]) -> list[Decision]:
    """Start or skip every waiting step whose dependencies settled, resolving skips transitively;
    a step that does not fit the quotas' free capacity keeps waiting."""
    assert state.ctx.snapshot is not None
    steps = {s.name: s for s in state.ctx.snapshot.steps}
    phases = {name: p.phase for name, p in state.steps.items()}
    order = topological_order({name: s.depends_on for name, s in steps.items()})
    out: list[Decision] = []
    starting: dict[str, Decimal] = {}
    for name in order:
        if phases.get(name) != "Pending" or not all(phases.get(d) in SETTLED for d in steps[name].depends_on):
            continue
        skip = _skip_reason(steps[name], phases, state.ctx.spec.branch if state.ctx.spec else None)
        if skip:
            phases[name] = "Skipped"
            skipped = StepSkipped(step=name, reason=skip[0], message=skip[1], **_ident(state, now))
            out.append(Publish(event=skipped))
        elif not beyond_free(wanted := _plus(starting, pod_demand(steps[name])), quotas):
            starting = wanted
            phases[name] = "Scheduled"
            out.append(StartStep(plan=plan(state.ctx, name)))
    return out


def _plus(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return {k: a.get(k, Decimal(0)) + b.get(k, Decimal(0)) for k in a.keys() | b.keys()}


def _skip_reason(step: Step, phases: Mapping[str, str], branch: str | None) -> tuple[str, str] | None:
    cond = step.conditional
    if cond is not None and cond.branch is not None and not branch_matches(cond.branch, branch or ""):
        return "BranchNotMatched", f"branch {branch or '(none)'!r} does not match {cond.branch!r}"
    on_success = cond.on_success if cond is not None else True
    failed = [d for d in step.depends_on if phases.get(d) != "Succeeded"]
    if on_success and failed:
        return "DependencyFailed", f"did not run because {', '.join(failed)} did not succeed"
    return None


def _finish(state: RunProgress, now: datetime, log_grace: timedelta) -> list[Decision]:
    steps = state.steps.values()
    if not all(p.phase in SETTLED for p in steps):
        return []
    unshipped = [n for n, p in state.steps.items() if p.ran and not p.log_shipped]
    last_end = max((p.ended_at for p in steps if p.ended_at is not None), default=None)
    if unshipped and (last_end is None or now < last_end + log_grace):
        return []
    phase, reason, message = _outcome(state)
    if unshipped:
        message = f"{message}; log not shipped for {', '.join(unshipped)}".lstrip("; ")
    finished = RunFinished(
        config=state.ctx.config, phase=phase, reason=reason, message=message, **_ident(state, now)
    )
    return [Publish(event=finished)]


def _outcome(state: RunProgress) -> tuple[FinalPhase, str, str]:
    if state.stopping == "cancelled":
        return "Cancelled", "Cancelled", "the run was cancelled"
    if state.stopping == "timed-out":
        assert state.ctx.snapshot is not None
        return "Failed", "PipelineTimeout", f"the pipeline timeout ({state.ctx.snapshot.timeout}) passed"
    failed = [n for n, p in state.steps.items() if p.phase == "Failed"]
    if failed:
        detail = ", ".join(_failure(n, state) for n in failed)
        return "Failed", "StepFailed", f"failed: {detail}"
    return "Succeeded", "Succeeded", "all steps succeeded or were skipped"


def _failure(name: str, state: RunProgress) -> str:
    p = state.steps[name]
    code = f"exit code {p.exit_code}" if p.exit_code is not None else p.reason or "no exit code"
    return f"{name} ({code})"


def _ident(state: RunProgress, at: datetime) -> RunIdentity:
    ctx = state.ctx
    return {"namespace": ctx.namespace, "run": ctx.run, "uid": ctx.uid, "at": at}
