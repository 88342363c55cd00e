"""Which RepositoryConnection a run belongs to, and where its provider's API is. Pure.

The connection of a run is the one in the run's namespace whose pipelineConfigRef is the run's
config; failing that, the one whose repository is the snapshot's repository (same URL key, so
`git@github.com:org/app.git` and `https://github.com/org/app` are one repository).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.repositories import RepositoryParts, normalise_repo_url, repository_parts
from api.repositoryconnection import RepositoryConnection
from services.notifier.providers import PROVIDERS, Credentials, ProviderApi, api_base


@dataclass(frozen=True)
class Target:
    """A repository on a provider's API, and the credentials to call it."""

    provider: ProviderApi
    api: str
    parts: RepositoryParts
    creds: Credentials


@dataclass(frozen=True)
class Unreachable:
    """Why no request can be made for a connection (reported as NotificationFailed, status 0)."""

    reason: str
    message: str


def connection_of(
    connections: Sequence[RepositoryConnection], config: str, repository: str
) -> RepositoryConnection | None:
    by_config = next((c for c in connections if c.spec.pipeline_config_ref == config), None)
    if by_config is not None:
        return by_config
    key = normalise_repo_url(repository)
    return next((c for c in connections if key and normalise_repo_url(c.spec.repository) == key), None)


def target_of(
    conn: RepositoryConnection, creds: Credentials | None, overrides: Mapping[str, str]
) -> Target | Unreachable:
    provider = PROVIDERS[conn.spec.provider]
    parts = repository_parts(conn.spec.repository)
    if parts is None or provider.locate(parts) is None:
        message = f"{conn.spec.repository!r} does not name a {provider.name} repository"
        return Unreachable(reason="UnsupportedRepository", message=message)
    if creds is None:
        message = f"Secret {conn.spec.auth_secret_ref!r} has no `token` or `password` key"
        return Unreachable(reason="NoToken", message=message)
    return Target(provider=provider, api=api_base(provider, parts.host, overrides), parts=parts, creds=creds)


def refusal_reason(status: int) -> str:
    """A one-word reason for a provider's 4xx answer."""
    return {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 422: "Unprocessable"}.get(
        status, "Rejected"
    )
