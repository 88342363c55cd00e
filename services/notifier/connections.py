"""Which RepositoryConnection a run belongs to, and where its provider's API is. Pure.

The connection is the one the scheduler recorded in RunAccepted; for a run that never got there
(rejected), api/triggers.py's rule on the run's spec, the same rule the scheduler applies. The
repository on the API is the one the provider named in the delivery (`spec.trigger.repository`:
owner/repo, GitLab's full path) on the connection's host; only a run without one (created by
hand) falls back to the path of the connection's URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.repositories import RepositoryParts, repository_parts
from api.repositoryconnection import RepositoryConnection
from api.triggers import connection_of
from projections.run_context import RunContext
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


def run_connection(
    ctx: RunContext, connections: Sequence[RepositoryConnection]
) -> RepositoryConnection | None:
    """The connection the scheduler recorded, else the one api/triggers.py's rule gives."""
    if ctx.connection:
        return next((c for c in connections if c.metadata.name == ctx.connection), None)
    return connection_of(ctx.spec, connections) if ctx.spec is not None else None


def api_parts(conn: RepositoryConnection, identity: str | None) -> RepositoryParts | None:
    """The repository as the API names it: the provider's own name for it when the run has one."""
    parts = repository_parts(conn.spec.repository)
    segments = tuple(s for s in (identity or "").split("/") if s)
    if not segments:
        return parts
    host = parts.host if parts is not None else ""
    return RepositoryParts(host=host, segments=segments)


def target_of(
    conn: RepositoryConnection,
    creds: Credentials | None,
    overrides: Mapping[str, str],
    identity: str | None = None,
) -> Target | Unreachable:
    provider = PROVIDERS[conn.spec.provider]
    parts = api_parts(conn, identity)
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
