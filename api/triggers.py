"""Which RepositoryConnection a run belongs to, and how its pull request head is fetched (pure).

The one rule, used by the scheduler (credentials for the checkout, fork policy) and the notifier
(commit statuses): a run whose `spec.trigger.connection` names a connection belongs to that one
(in the run's namespace), and to none when it does not exist; a run that names none (created by
hand) belongs to the connection of its namespace whose pipelineConfigRef is the run's config,
the first by name when several are. The webhook always names the connection, so the two services
can never pick different connections (or credentials) for one run.
"""

from __future__ import annotations

from collections.abc import Sequence

from api.pipelinerun import PipelineRunSpec, Trigger
from api.repositoryconnection import RepositoryConnection


def connection_of(
    spec: PipelineRunSpec, connections: Sequence[RepositoryConnection]
) -> RepositoryConnection | None:
    """The run's connection among `connections` (those of the run's namespace)."""
    named = spec.trigger.connection if spec.trigger else None
    if named:
        return next((c for c in connections if c.metadata.name == named), None)
    configured = [c for c in connections if c.spec.pipeline_config_ref == spec.pipeline_config_ref]
    return min(configured, key=lambda c: c.metadata.name, default=None)


def withholds_secrets(spec: PipelineRunSpec, connection: RepositoryConnection | None) -> bool:
    """Whether the run's steps go without the config's secrets: a fork's pull request does unless
    its connection says WithSecrets (a fork with no connection to say so gets none)."""
    if spec.trigger is None or not spec.trigger.fork:
        return False
    return connection is None or connection.spec.fork_pull_requests != "WithSecrets"


def pull_request_ref(trigger: Trigger | None) -> str | None:
    """The base repository's ref holding a pull request's head, where the provider keeps one:
    GitHub `refs/pull/<n>/head`, GitLab `refs/merge-requests/<iid>/head`; None otherwise."""
    if trigger is None or trigger.event != "pull_request" or trigger.number is None:
        return None
    if trigger.provider == "github":
        return f"refs/pull/{trigger.number}/head"
    if trigger.provider == "gitlab":
        return f"refs/merge-requests/{trigger.number}/head"
    return None


def clone_source(repository: str, trigger: Trigger | None) -> tuple[str, str | None]:
    """(URL to clone, extra ref to fetch) for a run of `repository`: a pull request's head is
    fetched from the base repository's PR ref; a fork's head without one is cloned from the fork."""
    ref = pull_request_ref(trigger)
    if ref is not None:
        return repository, ref
    if trigger is not None and trigger.fork and trigger.source_repository:
        return trigger.source_repository, None
    return repository, None
