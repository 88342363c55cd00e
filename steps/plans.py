"""The plan of one step: which step of which run (StepRef), and everything an executor needs to
run it (StepPlan), derived from the run context fold, so every service plans a step alike.

A run that withholds secrets (a fork's pull request) plans every step without them, so no
executor can hand them out; a pull request's head is fetched as api/triggers.py says.
"""

from __future__ import annotations

from msgspec import Struct

from api.durations import parse_duration
from api.pipelineconfig import SecretEnv, Step
from api.triggers import clone_source
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
    #: Secrets the step gets: none when the run withholds them (a fork's pull request).
    secrets: list[SecretEnv]
    timeout_seconds: int
    #: A ref to fetch besides the clone's default ones (a pull request's head in the base repository).
    fetch_ref: str | None = None


def step_ref(ctx: RunContext, step: str) -> StepRef:
    return ref_of(ctx.namespace, ctx.run, ctx.uid, step)


def ref_of(namespace: str, run: str, uid: str, step: str) -> StepRef:
    """A step's identity, its Job's name included (what every plan of the step carries)."""
    return StepRef(namespace=namespace, run=run, uid=uid, step=step, job_name=job_name(run, step))


def plan(ctx: RunContext, step_name: str) -> StepPlan:
    """The plan of one step of an accepted run; KeyError for a step the snapshot lacks."""
    if ctx.snapshot is None or ctx.spec is None:
        raise ValueError(f"run {ctx.namespace}/{ctx.run} is not accepted yet")
    step = next((s for s in ctx.snapshot.steps if s.name == step_name), None)
    if step is None:
        raise KeyError(step_name)
    repository, fetch_ref = clone_source(ctx.snapshot.repository, ctx.spec.trigger)
    return StepPlan(
        ref=step_ref(ctx, step_name),
        step=step,
        repository=repository,
        commit=ctx.spec.commit,
        branch=ctx.spec.branch,
        auth_secret_ref=ctx.auth_secret_ref,
        env=step_env(ctx, step_name),
        secrets=[] if ctx.secrets_withheld else list(step.secrets),
        timeout_seconds=parse_duration(step.effective_timeout),
        fetch_ref=fetch_ref,
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
