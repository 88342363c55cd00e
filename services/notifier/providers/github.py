"""GitHub (and GitHub Enterprise Server) REST API: commit statuses and repository webhooks.

Documented shapes (docs.github.com, REST "Commit statuses" and "Repository webhooks"):
- POST /repos/{owner}/{repo}/statuses/{sha} {state: pending|success|failure|error, target_url,
  description, context} -> 201; a repeated identical status is stored again, harmlessly;
- GET /repos/{owner}/{repo}/hooks?per_page=100&page=N -> [{id, config: {url, ...}}] (a full page
  means there may be another);
- POST /repos/{owner}/{repo}/hooks {name: web, active, events, config: {url, content_type: json,
  secret, insecure_ssl: "0"}} -> 201.
Headers: `Authorization: Bearer <token>`, `Accept: application/vnd.github+json`,
`X-GitHub-Api-Version: 2022-11-28`. API root: https://api.github.com, or https://<host>/api/v3.
"""

from __future__ import annotations

from typing import Final

import msgspec
from msgspec import Struct

from api.repositories import RepositoryParts
from ports.http import HttpRequest, HttpResponse
from services.notifier.providers.model import PAGE_SIZE, Credentials, HookSpec, segments_or_none
from services.notifier.statuses import CommitStatus, Outcome

PUBLIC_HOST: Final = "github.com"
PUBLIC_API: Final = "https://api.github.com"
API_VERSION: Final = "2022-11-28"
HOOK_EVENTS: Final = ("push", "pull_request", "issue_comment")
_STATES: dict[Outcome, str] = {
    "pending": "pending",
    "succeeded": "success",
    "failed": "failure",
    "cancelled": "error",
    "rejected": "error",
}


class _HookConfig(Struct, frozen=True):
    url: str = ""


class _Hook(Struct):
    config: _HookConfig = _HookConfig()


class GitHubApi:
    name: Final = "github"

    def api_base(self, host: str) -> str:
        return PUBLIC_API if host == PUBLIC_HOST else f"https://{host}/api/v3"

    def locate(self, parts: RepositoryParts) -> str | None:
        found = segments_or_none(parts, 2)
        return "/".join(found) if found else None

    def state(self, status: CommitStatus) -> str:
        return _STATES[status.outcome]

    def status_request(
        self, api: str, parts: RepositoryParts, status: CommitStatus, creds: Credentials
    ) -> HttpRequest:
        body: dict[str, object] = {
            "state": self.state(status),
            "description": status.description,
            "context": status.context,
        }
        if status.target_url:
            body["target_url"] = status.target_url
        url = f"{api}/repos/{self.locate(parts)}/statuses/{status.commit}"
        return HttpRequest(method="POST", url=url, headers=auth_headers(creds), json=body)

    def status_accepted(self, status: CommitStatus, response: HttpResponse) -> bool:
        return response.ok

    def list_hooks_request(
        self, api: str, parts: RepositoryParts, creds: Credentials, page: int = 1
    ) -> HttpRequest:
        url = f"{api}/repos/{self.locate(parts)}/hooks?per_page={PAGE_SIZE}&page={page}"
        return HttpRequest(method="GET", url=url, headers=auth_headers(creds))

    def hook_urls(self, response: HttpResponse) -> list[str]:
        return [h.config.url for h in _hooks(response) if h.config.url]

    def more_hooks(self, response: HttpResponse) -> bool:
        return len(_hooks(response)) >= PAGE_SIZE

    def create_hook_request(
        self, api: str, parts: RepositoryParts, creds: Credentials, hook: HookSpec
    ) -> HttpRequest:
        config: dict[str, object] = {"url": hook.url, "content_type": "json", "insecure_ssl": "0"}
        if hook.secret:
            config["secret"] = hook.secret
        events = list(HOOK_EVENTS)
        body: dict[str, object] = {"name": "web", "active": True, "events": events, "config": config}
        url = f"{api}/repos/{self.locate(parts)}/hooks"
        return HttpRequest(method="POST", url=url, headers=auth_headers(creds), json=body)


def _hooks(response: HttpResponse) -> list[_Hook]:
    try:
        return msgspec.json.decode(response.content, type=list[_Hook])
    except msgspec.DecodeError:
        return []


def auth_headers(creds: Credentials) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {creds.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
    }
