"""What the runner checks out ahead of a run (services.runner.prefetching, pure).

Covers: for pushes, pull requests (the provider's PR ref), forks (cloned from the fork) and runs
with or without a connection's auth Secret, the guess made from the new PipelineRun is exactly the
source of the plan the scheduler's acceptance leads to (so a prefetched checkout is taken); a plan
from an edited config, another commit or another auth Secret does not fit; no guess for a missing
or invalid config, a run created longer ago than the time to live, or a run already over.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest
from msgspec.structs import replace

from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig, PipelineConfigSpec, Step
from api.pipelinerun import PipelineRun, PipelineRunSpec, PipelineRunStatus, Trigger
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionSpec
from events.run import RunAccepted, RunIdentity, RunRequested
from projections.run_context import RunContext, evolve
from services.runner.prefetching import fits, guess
from services.scheduler.accepting import Inputs, accept
from steps.plans import StepPlan, plan

NOW = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)
REPO = "https://github.com/octo-org/app"
SHA = "a" * 40


def config(repository: str = REPO, *steps: Step) -> PipelineConfig:
    chosen = list(steps) or [Step(name="build", image="alpine:3", commands=["true"])]
    meta = ObjectMeta(name="app-ci", namespace="team-a", generation=1)
    return PipelineConfig(metadata=meta, spec=PipelineConfigSpec(repository=repository, steps=chosen))


def connection(name: str = "gh", auth: str | None = None) -> RepositoryConnection:
    spec = RepositoryConnectionSpec(
        repository=REPO, provider="github", auth_secret_ref=auth, pipeline_config_ref="app-ci"
    )
    return RepositoryConnection(metadata=ObjectMeta(name=name, namespace="team-a"), spec=spec)


def new_run(trigger: Trigger | None = None, created: datetime = NOW) -> PipelineRun:
    meta = ObjectMeta(name="app-ci-1", namespace="team-a", uid="uid-1", creation_timestamp=created)
    spec = PipelineRunSpec(pipeline_config_ref="app-ci", commit=SHA, branch="main", trigger=trigger)
    return PipelineRun(metadata=meta, spec=spec)


def accepted_plan(run: PipelineRun, cfg: PipelineConfig, connections: list[RepositoryConnection]) -> StepPlan:
    """The first step's plan as the scheduler's acceptance and the runner's fold make it."""
    ident = RunIdentity(namespace="team-a", run="app-ci-1", uid="uid-1", at=NOW)
    requested = RunRequested(spec=run.spec, **ident)
    ctx = evolve(RunContext(), requested)
    conn = next((c for c in connections if c.metadata.name == "gh"), None)
    decision = accept(ctx, Inputs(config=cfg, connection=conn), [], NOW)
    assert isinstance(decision, RunAccepted)
    return plan(reduce(evolve, [requested, decision], RunContext()), cfg.spec.steps[0].name)


PULL = Trigger(event="pull_request", provider="github", repository="octo-org/app", number=7)
FORK = Trigger(
    event="pull_request", provider="bitbucket", fork=True, source_repository="https://x.org/fork/app"
)


@pytest.mark.parametrize(
    ("trigger", "connections"),
    [
        (None, []),
        (Trigger(event="push", provider="github"), [connection(auth="git-creds")]),
        (PULL, [connection()]),
        (FORK, [connection(auth="git-creds")]),
    ],
    ids=["manual", "push-with-auth", "pull-request-ref", "fork"],
)
def test_the_guess_is_the_source_acceptance_leads_to(
    trigger: Trigger | None, connections: list[RepositoryConnection]
) -> None:
    run, cfg = new_run(trigger), config()
    found = guess(run, cfg, connections, NOW, TTL)
    assert found is not None and (found.namespace, found.uid, found.steps) == ("team-a", "uid-1", 1)
    assert fits(found.source, accepted_plan(run, cfg, connections))


def test_a_plan_from_an_edited_config_another_commit_or_auth_does_not_fit() -> None:
    run, cfg = new_run(), config()
    found = guess(run, cfg, [connection(auth="old-creds")], NOW, TTL)
    assert found is not None
    edited = accepted_plan(run, config("https://github.com/octo-org/other"), [connection(auth="old-creds")])
    assert not fits(found.source, edited)
    rotated = accepted_plan(run, cfg, [connection(auth="new-creds")])
    assert not fits(found.source, rotated)
    other_commit = accepted_plan(
        replace(run, spec=replace(run.spec, commit="b" * 40)), cfg, [connection(auth="old-creds")]
    )
    assert not fits(found.source, other_commit)


def test_nothing_is_guessed_for_a_missing_or_invalid_config_or_an_old_or_finished_run() -> None:
    build = Step(name="build", image="alpine:3", commands=["true"], depends_on=["test"])
    test = Step(name="test", image="alpine:3", commands=["true"], depends_on=["build"])
    assert guess(new_run(), None, [], NOW, TTL) is None
    assert guess(new_run(), config(REPO, build, test), [], NOW, TTL) is None  # a cycle: rejected
    assert guess(new_run(created=NOW - TTL - timedelta(seconds=1)), config(), [], NOW, TTL) is None
    assert (
        guess(
            replace(new_run(), metadata=replace(new_run().metadata, creation_timestamp=None)),
            config(),
            [],
            NOW,
            TTL,
        )
        is None
    )
    over = replace(new_run(), status=PipelineRunStatus(phase="Succeeded"))
    assert guess(over, config(), [], NOW, TTL) is None
    assert guess(new_run(created=NOW - TTL), config(), [], NOW, TTL) is not None
