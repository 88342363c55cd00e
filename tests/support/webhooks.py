"""Provider-shaped webhook requests for tests: the fixtures under tests/fixtures/webhooks, with the
headers each provider sends (event name, delivery id, signature or token) for a given secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.webhook.providers.signatures import sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"

#: fixture name -> (provider, event header value)
EVENTS: dict[str, tuple[str, str]] = {
    "github_push": ("github", "push"),
    "github_push_tag": ("github", "push"),
    "github_push_delete": ("github", "push"),
    "github_pull_request_opened": ("github", "pull_request"),
    "github_pull_request_closed": ("github", "pull_request"),
    "github_ping": ("github", "ping"),
    "gitlab_push": ("gitlab", "Push Hook"),
    "gitlab_push_delete": ("gitlab", "Push Hook"),
    "gitlab_tag_push": ("gitlab", "Tag Push Hook"),
    "gitlab_merge_request_open": ("gitlab", "Merge Request Hook"),
    "gitlab_merge_request_update": ("gitlab", "Merge Request Hook"),
    "gitlab_merge_request_update_title": ("gitlab", "Merge Request Hook"),
    "gitlab_merge_request_merge": ("gitlab", "Merge Request Hook"),
    "bitbucket_repo_push": ("bitbucket", "repo:push"),
    "bitbucket_repo_push_tag": ("bitbucket", "repo:push"),
    "bitbucket_repo_push_delete": ("bitbucket", "repo:push"),
    "bitbucket_pullrequest_created": ("bitbucket", "pullrequest:created"),
}

#: The repository each provider's fixtures belong to, as a RepositoryConnection names it.
REPOSITORIES = {
    "github": "https://github.com/octo-org/hello-world",
    "gitlab": "https://gitlab.example.com/group/sub/app.git",
    "bitbucket": "https://bitbucket.org/team-a/app",
}


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def body_of(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def headers_for(provider: str, event: str, body: bytes, secret: bytes, delivery: str) -> dict[str, str]:
    """The headers `provider` sends with `body`, authenticated with `secret`."""
    base = {"Content-Type": "application/json"}
    if provider == "github":
        return base | {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-GitHub-Hook-ID": "109948940",
            "X-Hub-Signature-256": sign(secret, body),
            "User-Agent": "GitHub-Hookshot/044aadd",
        }
    if provider == "gitlab":
        return base | {
            "X-Gitlab-Event": event,
            "X-Gitlab-Token": secret.decode(),
            "X-Gitlab-Event-UUID": f"event-{delivery}",
            "Idempotency-Key": delivery,
            "X-Gitlab-Instance": "https://gitlab.example.com",
            "User-Agent": "GitLab/17.5.0",
        }
    return base | {
        "X-Event-Key": event,
        "X-Request-UUID": delivery,
        "X-Hook-UUID": "cb3d6c3e-44a1-4b52-9a3b-8f5a4b1c2d3e",
        "X-Attempt-Number": "1",
        "X-Hub-Signature": sign(secret, body),
        "User-Agent": "Bitbucket-Webhooks/2.0",
    }


def request_for(
    name: str, secret: bytes, delivery: str, body: bytes | None = None
) -> tuple[str, dict[str, str], bytes]:
    """(provider, headers, body) of the fixture `name`, optionally with another body."""
    provider, event = EVENTS[name]
    raw = body_of(name) if body is None else body
    return provider, headers_for(provider, event, raw, secret, delivery), raw


def lower(headers: dict[str, str]) -> dict[str, str]:
    """Headers as the providers package takes them (lower-case names)."""
    return {k.lower(): v for k, v in headers.items()}
