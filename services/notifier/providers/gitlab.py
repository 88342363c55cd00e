"""GitLab (gitlab.com and self-managed) REST API v4: commit statuses and project hooks.

Documented shapes (docs.gitlab.com, "Commits API" and "Project webhooks API"); `:id` is the
URL-encoded project path (`group%2Fsub%2Fapp`):
- POST /projects/:id/statuses/:sha {state: pending|running|success|failed|canceled, name,
  target_url, description, ref} -> 201. GitLab reuses only a pending or running status of the same
  name, so a repeated final status is stored anew (harmless), while a repeated `pending` is
  refused: 400 "Cannot transition status via :enqueue from :pending" - which means it is
  already there, and counts as accepted;
- GET /projects/:id/hooks?per_page=100&page=N -> [{id, url, ...}] (a full page: maybe another);
- POST /projects/:id/hooks {url, token, push_events, tag_push_events, merge_requests_events,
  note_events, enable_ssl_verification} -> 201.
Header: `PRIVATE-TOKEN: <token>`. API root: https://gitlab.com/api/v4, or https://<host>/api/v4.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

import msgspec
from msgspec import Struct

from api.repositories import RepositoryParts
from ports.http import HttpRequest, HttpResponse
from services.notifier.providers.model import PAGE_SIZE, Credentials, HookSpec
from services.notifier.statuses import CommitStatus, Outcome

_STATES: dict[Outcome, str] = {
    "pending": "pending",
    "succeeded": "success",
    "failed": "failed",
    "cancelled": "canceled",
    "rejected": "failed",
}
_ALREADY = "Cannot transition status via :enqueue from :pending"


class _Hook(Struct):
    url: str = ""


class GitLabApi:
    name: Final = "gitlab"

    def api_base(self, host: str) -> str:
        return f"https://{host}/api/v4"

    def locate(self, parts: RepositoryParts) -> str | None:
        return quote(parts.path, safe="") if len(parts.segments) >= 2 else None

    def state(self, status: CommitStatus) -> str:
        return _STATES[status.outcome]

    def status_request(
        self, api: str, parts: RepositoryParts, status: CommitStatus, creds: Credentials
    ) -> HttpRequest:
        body: dict[str, object] = {
            "state": self.state(status),
            "name": status.context,
            "description": status.description,
        }
        if status.target_url:
            body["target_url"] = status.target_url
        if status.branch:
            body["ref"] = status.branch
        url = f"{api}/projects/{self.locate(parts)}/statuses/{status.commit}"
        return HttpRequest(method="POST", url=url, headers=auth_headers(creds), json=body)

    def status_accepted(self, status: CommitStatus, response: HttpResponse) -> bool:
        if response.ok:
            return True
        return status.outcome == "pending" and response.status == 400 and _ALREADY in response.text

    def list_hooks_request(
        self, api: str, parts: RepositoryParts, creds: Credentials, page: int = 1
    ) -> HttpRequest:
        url = f"{api}/projects/{self.locate(parts)}/hooks?per_page={PAGE_SIZE}&page={page}"
        return HttpRequest(method="GET", url=url, headers=auth_headers(creds))

    def hook_urls(self, response: HttpResponse) -> list[str]:
        return [h.url for h in _hooks(response) if h.url]

    def more_hooks(self, response: HttpResponse) -> bool:
        return len(_hooks(response)) >= PAGE_SIZE

    def create_hook_request(
        self, api: str, parts: RepositoryParts, creds: Credentials, hook: HookSpec
    ) -> HttpRequest:
        body: dict[str, object] = {
            "url": hook.url,
            "push_events": True,
            "tag_push_events": True,
            "merge_requests_events": True,
            "note_events": True,
            "enable_ssl_verification": True,
        }
        if hook.secret:
            body["token"] = hook.secret
        url = f"{api}/projects/{self.locate(parts)}/hooks"
        return HttpRequest(method="POST", url=url, headers=auth_headers(creds), json=body)


def _hooks(response: HttpResponse) -> list[_Hook]:
    try:
        return msgspec.json.decode(response.content, type=list[_Hook])
    except msgspec.DecodeError:
        return []


def auth_headers(creds: Credentials) -> dict[str, str]:
    return {"PRIVATE-TOKEN": creds.token}
