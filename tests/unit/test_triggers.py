"""A run's trigger (api/triggers.py, services/webhook/triggering.py): which connection a run belongs
to, whether its steps get secrets, how a pull request's head is fetched, and what the webhook
records on the run.

Covers: the named connection wins (and a missing one is none, never a guess); without a name, the
connection of the config, first by name; secrets withheld for a fork unless WithSecrets; PR refs
for GitHub and GitLab, the fork's clone URL for Bitbucket; the plan of a withholding run has no
secrets and the PR ref to fetch; the webhook's trigger (event, connection, identity, number,
target, fork) and run names of a multi-ref delivery; forkPullRequests: Ignore refuses with 200.
"""

from __future__ import annotations

from datetime import UTC, datetime

from msgspec.structs import replace

from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig, PipelineConfigSpec, SecretEnv, Step
from api.pipelinerun import PipelineRunSpec, Trigger
from api.repositoryconnection import ForkPolicy, RepositoryConnection, RepositoryConnectionSpec
from api.triggers import clone_source, connection_of, pull_request_ref, withholds_secrets
from projections.run_context import RunContext
from services.webhook.providers import Delivery
from services.webhook.triggering import fork_refusal, plan_runs
from steps.plans import plan

REPO = "https://github.com/org/app"
AT = datetime(2026, 1, 1, tzinfo=UTC)


def conn(
    name: str, config: str | None = "app-ci", forks: ForkPolicy = "WithoutSecrets"
) -> RepositoryConnection:
    spec = RepositoryConnectionSpec(
        repository=REPO, provider="github", pipeline_config_ref=config, fork_pull_requests=forks
    )
    return RepositoryConnection(metadata=ObjectMeta(namespace="team-a", name=name), spec=spec)


def spec(trigger: Trigger | None = None) -> PipelineRunSpec:
    return PipelineRunSpec(pipeline_config_ref="app-ci", commit="abcdef1", trigger=trigger)


def pr(provider: str = "github", fork: bool = True) -> Trigger:
    return Trigger(
        event="pull_request", connection="b", provider=provider,  # type: ignore[arg-type]
        number=7, source_repository="https://github.com/fork/app.git", fork=fork,
    )  # fmt: skip


def test_the_named_connection_wins_and_a_missing_one_is_none() -> None:
    """A run naming its connection belongs to it, even when another names the config first."""
    a, b = conn("a"), conn("b")
    assert connection_of(spec(Trigger(connection="b")), [a, b]) is b
    assert connection_of(spec(Trigger(connection="gone")), [a, b]) is None


def test_without_a_name_the_config_s_connection_first_by_name() -> None:
    """A run created by hand belongs to the connection of its config, the first by name."""
    assert connection_of(spec(), [conn("z"), conn("m"), conn("a", config="other")]).metadata.name == "m"  # type: ignore[union-attr]
    assert connection_of(spec(), [conn("a", config="other")]) is None


def test_forks_go_without_secrets_unless_trusted() -> None:
    """A fork's pull request withholds secrets by default and with no connection; WithSecrets gives them."""
    assert withholds_secrets(spec(pr()), conn("b"))
    assert withholds_secrets(spec(pr()), None)
    assert not withholds_secrets(spec(pr()), conn("b", forks="WithSecrets"))
    assert not withholds_secrets(spec(pr(fork=False)), conn("b"))
    assert not withholds_secrets(spec(), None)


def test_pull_request_heads_come_from_the_provider_s_ref_or_the_fork() -> None:
    """GitHub refs/pull/<n>/head, GitLab refs/merge-requests/<iid>/head, else the fork's clone URL."""
    assert pull_request_ref(pr("github")) == "refs/pull/7/head"
    assert pull_request_ref(pr("gitlab")) == "refs/merge-requests/7/head"
    assert clone_source(REPO, pr("github")) == (REPO, "refs/pull/7/head")
    assert clone_source(REPO, pr("bitbucket")) == ("https://github.com/fork/app.git", None)
    assert clone_source(REPO, pr("bitbucket", fork=False)) == (REPO, None)
    assert clone_source(REPO, Trigger(event="push")) == (REPO, None)


def test_a_withholding_run_plans_no_secrets_and_fetches_the_pr_ref() -> None:
    """The plan of a fork's run has no secret env and the PR ref to fetch; a trusted run keeps them."""
    secret = SecretEnv(secret_ref="creds", key="token", env_var="TOKEN")
    step = Step(name="test", image="alpine", commands=["true"], secrets=[secret])
    ctx = RunContext(
        namespace="team-a", run="r", uid="u", spec=spec(pr()), config="app-ci",
        snapshot=PipelineConfigSpec(repository=REPO, steps=[step]), secrets_withheld=True,
    )  # fmt: skip
    withheld = plan(ctx, "test")
    assert (withheld.secrets, withheld.fetch_ref, withheld.repository) == ([], "refs/pull/7/head", REPO)
    assert plan(replace(ctx, secrets_withheld=False), "test").secrets == [secret]


def delivery(**fields: object) -> Delivery:
    base: dict[str, object] = {
        "provider": "github", "delivery": "d-1", "kind": "pull_request", "repository_urls": (REPO,),
        "commit": "abcdef1", "branch": "feature", "target_branch": "main", "identity": "Org/App",
        "number": 7, "source_repository": "https://github.com/fork/app.git", "fork": True,
    }  # fmt: skip
    return Delivery(**(base | fields))  # type: ignore[arg-type]


def config() -> PipelineConfig:
    steps = [Step(name="test", image="alpine", commands=["true"])]
    return PipelineConfig(
        metadata=ObjectMeta(namespace="team-a", name="app-ci"),
        spec=PipelineConfigSpec(repository=REPO, steps=steps),
    )


def test_the_webhook_records_what_the_run_is() -> None:
    """A pull request's run records event, connection, identity, number, target, source and fork."""
    [run] = plan_runs(conn("b"), config(), delivery(), AT)  # type: ignore[misc]
    assert run.spec.trigger == Trigger(
        event="pull_request", connection="b", provider="github", repository="Org/App", number=7,
        target_branch="main", source_repository="https://github.com/fork/app.git", fork=True,
    )  # fmt: skip
    [push] = plan_runs(conn("b"), config(), delivery(kind="tag", fork=False), AT)  # type: ignore[misc]
    assert push.spec.trigger is not None and (push.spec.trigger.event, push.spec.trigger.number) == (
        "tag",
        None,
    )


def test_each_ref_of_a_multi_ref_delivery_gets_its_own_run() -> None:
    """Two refs of one delivery give two run names; the first keeps the single-ref name."""
    runs = [plan_runs(conn("b"), config(), delivery(kind="push", part=i), AT) for i in (0, 1)]
    names = [r[0].metadata.name for r in runs if isinstance(r, list)]
    assert len(set(names)) == 2


def test_ignore_refuses_fork_pull_requests_with_200() -> None:
    """forkPullRequests: Ignore answers a fork's pull request 200 and leaves others alone."""
    refused = fork_refusal(conn("b", forks="Ignore"), delivery())
    assert refused is not None and refused.status == 200
    assert fork_refusal(conn("b", forks="Ignore"), delivery(fork=False)) is None
    assert fork_refusal(conn("b"), delivery()) is None
