"""What a run was asked to do: the run context fold, and the plan of one step.

Folds RunRequested (the run's spec) and RunAccepted (the config snapshot, taken once) into a
RunContext. Every service that acts on a step (scheduler, runner, job-watcher, log-shipper) plans
it from here, so all of them see the config the run was started with, never a later edit.
"""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct
from msgspec.structs import replace

from api.durations import parse_duration
from api.pipelineconfig import PipelineConfigSpec, SecretEnv, Step
from api.pipelinerun import PipelineRunSpec
from events.run import RunAccepted, RunEvent, RunRequested
from projections.naming import job_name


class StepRef(Struct, frozen=True, kw_only=True):
    """Which step of which run (and its workload)."""

    namespace: str
    run: str
    uid: str
    step: str
    job_name: str


class StepPlan(Struct, frozen=True, kw_only=True):
    """Everything an executor needs to run one step."""

    ref: StepRef
    step: Step
    repository: str
    commit: str
    branch: str | None
    auth_secret_ref: str | None
    env: dict[str, str]
    secrets: list[SecretEnv]
    timeout_seconds: int


class RunContext(Struct, frozen=True, kw_only=True):
    namespace: str = ""
    run: str = ""
    uid: str = ""
    spec: PipelineRunSpec | None = None
    config: str = ""
    snapshot: PipelineConfigSpec | None = None
    auth_secret_ref: str | None = None
    accepted_at: datetime | None = None


def evolve(ctx: RunContext, event: RunEvent) -> RunContext:
    if isinstance(event, RunRequested) and ctx.spec is None:
        return replace(ctx, namespace=event.namespace, run=event.run, uid=event.uid, spec=event.spec)
    if isinstance(event, RunAccepted) and ctx.snapshot is None:
        return replace(
            ctx,
            namespace=event.namespace,
            run=event.run,
            uid=event.uid,
            config=event.config,
            snapshot=event.snapshot,
            auth_secret_ref=event.auth_secret_ref,
            accepted_at=event.at,
        )
    return ctx


def step_ref(ctx: RunContext, step: str) -> StepRef:
    return StepRef(
        namespace=ctx.namespace, run=ctx.run, uid=ctx.uid, step=step, job_name=job_name(ctx.run, step)
    )


def plan(ctx: RunContext, step_name: str) -> StepPlan:
    """The plan of one step of an accepted run; KeyError for a step the snapshot lacks."""
    if ctx.snapshot is None or ctx.spec is None:
        raise ValueError(f"run {ctx.namespace}/{ctx.run} is not accepted yet")
    step = next((s for s in ctx.snapshot.steps if s.name == step_name), None)
    if step is None:
        raise KeyError(step_name)
    return StepPlan(
        ref=step_ref(ctx, step_name),
        step=step,
        repository=ctx.snapshot.repository,
        commit=ctx.spec.commit,
        branch=ctx.spec.branch,
        auth_secret_ref=ctx.auth_secret_ref,
        env=step_env(ctx, step_name),
        secrets=list(step.secrets),
        timeout_seconds=parse_duration(step.effective_timeout),
    )


def step_env(ctx: RunContext, step_name: str) -> dict[str, str]:
    """The environment every step gets besides its secrets: identity, commit, matrix values."""
    assert ctx.spec is not None
    env = {
        "C8S_NAMESPACE": ctx.namespace,
        "C8S_RUN": ctx.run,
        "C8S_STEP": step_name,
        "COMMIT_SHA": ctx.spec.commit,
        "BRANCH": ctx.spec.branch or "",
        "CI": "true",
    }
    for dimension, value in sorted((ctx.spec.matrix_index or {}).items()):
        env[f"MATRIX_{_env_name(dimension)}"] = value
    return env


def _env_name(dimension: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in dimension).upper()
