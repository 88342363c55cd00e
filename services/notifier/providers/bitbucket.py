"""Bitbucket Cloud REST API 2.0: commit build statuses and repository webhooks.

Documented shapes (developer.atlassian.com, Bitbucket Cloud REST "Commit statuses", "Webhooks"):
- POST /repositories/{workspace}/{repo_slug}/commit/{sha}/statuses/build {key, state:
  INPROGRESS|SUCCESSFUL|FAILED|STOPPED, url, name, description} -> 201 (200 when the key exists:
  the status of that key is overwritten, so a repeat is harmless);
- GET /repositories/{workspace}/{repo_slug}/hooks?pagelen=100&page=N -> {values: [{uuid, url,
  ...}], next: <url of the next page, absent on the last>};
- POST /repositories/{workspace}/{repo_slug}/hooks {description, url, active, events, secret} -> 201.
Auth: Basic `username:password` (an app password) when the secret has a username, else
`Bearer <token>` (an access token). API root: https://api.bitbucket.org/2.0 (Bitbucket Cloud has
no self-hosted form; C8S_BITBUCKET_API_URL overrides it).
"""

from __future__ import annotations

import hashlib
from base64 import b64encode
from typing import Final

import msgspec
from msgspec import Struct

from api.repositories import RepositoryParts
from ports.http import HttpRequest, HttpResponse
from services.notifier.providers.model import PAGE_SIZE, Credentials, HookSpec, segments_or_none
from services.notifier.statuses import CommitStatus, Outcome

PUBLIC_API: Final = "https://api.bitbucket.org/2.0"
HOOK_EVENTS: Final = (
    "repo:push",
    "pullrequest:created",
    "pullrequest:updated",
    "pullrequest:comment_created",
)
#: Keys stay short (Bitbucket shows the name; the key only has to be stable per context).
MAX_KEY = 40
_STATES: dict[Outcome, str] = {
    "pending": "INPROGRESS",
    "succeeded": "SUCCESSFUL",
    "failed": "FAILED",
    "cancelled": "STOPPED",
    "rejected": "FAILED",
}


class _Hook(Struct):
    url: str = ""


class _Page(Struct):
    values: list[_Hook] = msgspec.field(default_factory=list)
    next: str | None = None


class BitbucketApi:
    name: Final = "bitbucket"

    def api_base(self, host: str) -> str:
        return PUBLIC_API

    def locate(self, parts: RepositoryParts) -> str | None:
        found = segments_or_none(parts, 2)
        return "/".join(found) if found else None

    def state(self, status: CommitStatus) -> str:
        return _STATES[status.outcome]

    def status_request(
        self, api: str, parts: RepositoryParts, status: CommitStatus, creds: Credentials
    ) -> HttpRequest:
        body: dict[str, object] = {
            "key": status_key(status.context),
            "state": self.state(status),
            "name": status.context,
            "description": status.description,
            "url": status.target_url,
        }
        url = f"{api}/repositories/{self.locate(parts)}/commit/{status.commit}/statuses/build"
        return HttpRequest(method="POST", url=url, headers=auth_headers(creds), json=body)

    def status_accepted(self, status: CommitStatus, response: HttpResponse) -> bool:
        return response.ok

    def list_hooks_request(
        self, api: str, parts: RepositoryParts, creds: Credentials, page: int = 1
    ) -> HttpRequest:
        url = f"{api}/repositories/{self.locate(parts)}/hooks?pagelen={PAGE_SIZE}&page={page}"
        return HttpRequest(method="GET", url=url, headers=auth_headers(creds))

    def hook_urls(self, response: HttpResponse) -> list[str]:
        return [h.url for h in _page(response).values if h.url]

    def more_hooks(self, response: HttpResponse) -> bool:
        return bool(_page(response).next)

    def create_hook_request(
        self, api: str, parts: RepositoryParts, creds: Credentials, hook: HookSpec
    ) -> HttpRequest:
        body: dict[str, object] = {
            "description": "c8s",
            "url": hook.url,
            "active": True,
            "events": list(HOOK_EVENTS),
        }
        if hook.secret:
            body["secret"] = hook.secret
        url = f"{api}/repositories/{self.locate(parts)}/hooks"
        return HttpRequest(method="POST", url=url, headers=auth_headers(creds), json=body)


def status_key(context: str) -> str:
    """The build status key of a context: the context itself when short, else a stable digest."""
    if len(context) <= MAX_KEY:
        return context
    digest = hashlib.sha256(context.encode()).hexdigest()[:12]
    return f"{context[: MAX_KEY - 13]}-{digest}"


def _page(response: HttpResponse) -> _Page:
    try:
        return msgspec.json.decode(response.content, type=_Page)
    except msgspec.DecodeError:
        return _Page()


def auth_headers(creds: Credentials) -> dict[str, str]:
    if creds.username:
        basic = b64encode(f"{creds.username}:{creds.token}".encode()).decode()
        return {"Authorization": f"Basic {basic}", "Accept": "application/json"}
    return {"Authorization": f"Bearer {creds.token}", "Accept": "application/json"}
