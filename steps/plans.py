"""The plan of one step: which step of which run (StepRef), and everything an executor needs to
run it (StepPlan), derived from the run context fold, so every service plans a step alike.
"""

from __future__ import annotations

from msgspec import Struct

from api.durations import parse_duration
from api.pipelineconfig import SecretEnv, Step
from projections.run_context import RunContext
from steps.naming import job_name


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
