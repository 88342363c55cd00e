"""What every provider's request builders share: credentials, the API's shape as a Protocol,
and the answers that settle a notification.

Builders are pure: they return ports.http.HttpRequest values (method, URL, headers, JSON body)
and read answers from bytes, so each provider's documented shape is checked without a socket.
"""

from __future__ import annotations

from typing import Protocol

from msgspec import Struct

from api.repositories import RepositoryParts
from ports.http import HttpRequest, HttpResponse
from services.notifier.statuses import CommitStatus

#: Hooks asked for per page when listing them (every provider's maximum is at least 100).
PAGE_SIZE = 100


class Credentials(Struct, frozen=True, kw_only=True):
    """An API token (the auth secret's `token`, else `password`) and, for Basic auth, a user."""

    token: str
    username: str = ""


class HookSpec(Struct, frozen=True, kw_only=True):
    """The webhook to register: where deliveries go and the secret that signs them."""

    url: str
    secret: str = ""


class ProviderApi(Protocol):
    @property
    def name(self) -> str: ...

    def api_base(self, host: str) -> str:
        """The REST API root for a repository on `host` (the public service or a self-hosted one)."""
        ...

    def locate(self, parts: RepositoryParts) -> str | None:
        """The repository as the API names it in paths, or None when the URL cannot name one."""
        ...

    def state(self, status: CommitStatus) -> str:
        """The provider's spelling of the status's outcome."""
        ...

    def status_request(
        self, api: str, parts: RepositoryParts, status: CommitStatus, creds: Credentials
    ) -> HttpRequest: ...

    def status_accepted(self, status: CommitStatus, response: HttpResponse) -> bool:
        """Whether the answer means the status is on the commit (a 2xx, or the provider's way of
        saying it already was)."""
        ...

    def list_hooks_request(
        self, api: str, parts: RepositoryParts, creds: Credentials, page: int = 1
    ) -> HttpRequest:
        """One page (from 1) of the repository's hooks."""
        ...

    def hook_urls(self, response: HttpResponse) -> list[str]:
        """The delivery URLs of the hooks in a list answer (undecodable -> none)."""
        ...

    def more_hooks(self, response: HttpResponse) -> bool:
        """Whether a list answer says a further page may hold more hooks."""
        ...

    def create_hook_request(
        self, api: str, parts: RepositoryParts, creds: Credentials, hook: HookSpec
    ) -> HttpRequest: ...


def segments_or_none(parts: RepositoryParts, count: int) -> tuple[str, ...] | None:
    """The path segments when there are exactly `count` of them (owner/repo, workspace/slug)."""
    return parts.segments if len(parts.segments) == count else None
