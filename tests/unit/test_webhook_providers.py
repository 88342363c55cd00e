"""Webhook providers (services/webhook/providers): documented payloads become Deliveries.

Covers, for GitHub, GitLab and Bitbucket Cloud: the envelope (delivery id from the documented
header, body digest without one; every repository URL the payload carries); push to a branch and
to a tag; branch deletion ignored with 200; pull/merge requests (trigger actions, ignored
actions); ping; unsupported events (200 no-op) or missing event names; malformed JSON and missing fields, with
reasons that name the field; GitHub's form-encoded bodies; signature and token verification.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from services.webhook.providers import PROVIDERS, Delivery, Envelope, Refusal
from services.webhook.providers.signatures import sign, verify_hmac, verify_token
from tests.support.webhooks import EVENTS, lower, request_for

SECRET = b"s3cret"


def parse(
    name: str, body: bytes | None = None, extra: dict[str, str] | None = None
) -> list[Delivery] | Refusal:
    provider, headers, raw = request_for(name, SECRET, "d-1", body)
    hdrs = lower(headers) | {k.lower(): v for k, v in (extra or {}).items()}
    p = PROVIDERS[provider]
    env = p.envelope(hdrs, raw)
    assert isinstance(env, Envelope), env
    assert p.verify(hdrs, raw, SECRET)
    return p.deliveries(env, hdrs, raw)


def delivery(name: str, body: bytes | None = None) -> Delivery:
    result = parse(name, body)
    assert isinstance(result, list) and len(result) == 1, result
    return result[0]


def refusal(name: str, body: bytes | None = None, extra: dict[str, str] | None = None) -> Refusal:
    result = parse(name, body, extra)
    assert isinstance(result, Refusal), result
    return result


def test_github_push_to_branch() -> None:
    """A GitHub push gives the branch, the `after` commit and the sender, as a push."""
    d = delivery("github_push")
    assert d.filtered_branch == "main"
    assert (d.kind, d.branch, d.commit, d.actor) == (
        "push", "main", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "octocat",
    )  # fmt: skip
    assert (d.provider, d.delivery) == ("github", "d-1")


def test_github_envelope_carries_every_repository_url() -> None:
    """clone_url, html_url, ssh_url and git_url all reach the envelope, and name one repository."""
    _, headers, body = request_for("github_push", SECRET, "d-1")
    env = PROVIDERS["github"].envelope(lower(headers), body)
    assert isinstance(env, Envelope)
    assert len(env.repository_urls) == 4
    assert env.repository_keys == {"github.com/octo-org/hello-world"}


def test_github_tag_push() -> None:
    """A push of refs/tags/T is a tag event whose branch is the tag name."""
    d = delivery("github_push_tag")
    assert (d.kind, d.branch) == ("tag", "v1.2.0")


def test_github_branch_deletion_is_ignored() -> None:
    """A push that deletes a branch (after = 000…) answers 200 and starts nothing."""
    r = refusal("github_push_delete")
    assert r.status == 200 and "deleted" in r.reason


def test_github_pull_request_opened() -> None:
    """An opened pull request runs its head branch at its head SHA."""
    d = delivery("github_pull_request_opened")
    assert (d.kind, d.branch, d.commit) == (
        "pull_request",
        "feature/readme",
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
    )


@pytest.mark.parametrize("action", ["synchronize", "reopened"])
def test_github_pull_request_trigger_actions(action: str) -> None:
    """synchronize and reopened start runs as opened does."""
    data = json.loads(request_for("github_pull_request_opened", SECRET, "d")[2]) | {"action": action}
    assert delivery("github_pull_request_opened", json.dumps(data).encode()).kind == "pull_request"


def test_github_closed_pull_request_is_ignored() -> None:
    """A closed pull request answers 200 with the action named."""
    r = refusal("github_pull_request_closed")
    assert r.status == 200 and "'closed'" in r.reason


def test_github_ping() -> None:
    """ping is understood (the service answers it with 200)."""
    assert delivery("github_ping").kind == "ping"


def test_github_unsupported_event() -> None:
    """An event c8s does not handle is a 200 no-op that names it and the supported ones (issue 13.5:
    providers count any other answer as a failed delivery)."""
    r = refusal("github_push", extra={"X-GitHub-Event": "issues"})
    assert r.status == 200 and "'issues'" in r.reason and "pull_request" in r.reason


def test_github_missing_event_header() -> None:
    """Without X-GitHub-Event the reason names the header."""
    r = refusal("github_push", extra={"X-GitHub-Event": ""})
    assert (r.status, r.reason) == (400, "missing X-GitHub-Event header")


def test_github_push_missing_field_is_named() -> None:
    """A push without `after` is a 400 naming the field."""
    data = json.loads(request_for("github_push", SECRET, "d")[2])
    del data["after"]
    r = refusal("github_push", json.dumps(data).encode())
    assert r.status == 400 and "`after`" in r.reason


def test_github_pull_request_wrong_type_is_named() -> None:
    """A head SHA of the wrong type is a 400 giving its path."""
    data = json.loads(request_for("github_pull_request_opened", SECRET, "d")[2])
    data["pull_request"]["head"]["sha"] = 42
    r = refusal("github_pull_request_opened", json.dumps(data).encode())
    assert r.status == 400 and "$.pull_request.head.sha" in r.reason


def test_github_form_encoded_body() -> None:
    """A hook with content type x-www-form-urlencoded sends payload=<json>; it parses the same."""
    body = urlencode({"payload": request_for("github_push", SECRET, "d")[2].decode()}).encode()
    provider, headers, _ = request_for("github_push", SECRET, "d-1", body)
    hdrs = lower(headers) | {"content-type": "application/x-www-form-urlencoded"}
    env = PROVIDERS[provider].envelope(hdrs, body)
    assert isinstance(env, Envelope)
    assert isinstance(PROVIDERS[provider].interpret(env, hdrs, body), Delivery)


@pytest.mark.parametrize("provider", ["github", "gitlab", "bitbucket"])
@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"[1, 2]", b'{"repository": 5}', b"\xff\xfe"])
def test_malformed_bodies_are_400(provider: str, body: bytes) -> None:
    """A body that is not a JSON object of the right shape is a 400 with a reason."""
    result = PROVIDERS[provider].envelope({}, body)
    assert isinstance(result, Refusal) and result.status == 400 and result.reason


@pytest.mark.parametrize("provider", ["github", "gitlab", "bitbucket"])
def test_payload_without_repository_is_400(provider: str) -> None:
    """A JSON object that names no repository is a 400 saying where the URL was looked for."""
    result = PROVIDERS[provider].envelope({}, b"{}")
    assert isinstance(result, Refusal) and result.status == 400 and "no repository" in result.reason


def test_gitlab_push() -> None:
    """A GitLab Push Hook gives the branch, checkout_sha and user_username."""
    d = delivery("gitlab_push")
    assert (d.kind, d.branch, d.commit, d.actor) == (
        "push", "main", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "jsmith",
    )  # fmt: skip


def test_gitlab_delivery_id_prefers_idempotency_key() -> None:
    """Idempotency-Key (stable across retries) is the delivery id; X-Gitlab-Event-UUID otherwise."""
    _, headers, body = request_for("gitlab_push", SECRET, "key-1")
    hdrs = lower(headers)
    env = PROVIDERS["gitlab"].envelope(hdrs, body)
    assert isinstance(env, Envelope) and env.delivery == "key-1"
    del hdrs["idempotency-key"]
    env = PROVIDERS["gitlab"].envelope(hdrs, body)
    assert isinstance(env, Envelope) and env.delivery == "event-key-1"


def test_delivery_id_falls_back_to_body_digest() -> None:
    """Without a delivery header the id is a digest of the body, the same on a retry."""
    _, headers, body = request_for("gitlab_push", SECRET, "k")
    hdrs = {k: v for k, v in lower(headers).items() if k not in ("idempotency-key", "x-gitlab-event-uuid")}
    first, second = (PROVIDERS["gitlab"].envelope(hdrs, body) for _ in range(2))
    assert isinstance(first, Envelope) and first == second and first.delivery.startswith("sha256-")


def test_gitlab_envelope_urls() -> None:
    """git_http_url, git_ssh_url and web_url of the project all name one repository."""
    _, headers, body = request_for("gitlab_push", SECRET, "k")
    env = PROVIDERS["gitlab"].envelope(lower(headers), body)
    assert isinstance(env, Envelope)
    assert env.repository_keys == {"gitlab.example.com/group/sub/app"}


def test_gitlab_tag_push() -> None:
    """A Tag Push Hook is a tag event named after the tag."""
    d = delivery("gitlab_tag_push")
    assert (d.kind, d.branch) == ("tag", "v1.0.0")


def test_gitlab_branch_deletion_is_ignored() -> None:
    """A push with after = 000… and no checkout_sha answers 200."""
    assert refusal("gitlab_push_delete").status == 200


@pytest.mark.parametrize("name", ["gitlab_merge_request_open", "gitlab_merge_request_update"])
def test_gitlab_merge_request_runs_source_branch(name: str) -> None:
    """open, and update with new commits, run the source branch at last_commit."""
    d = delivery(name)
    assert (d.kind, d.branch, d.commit) == (
        "pull_request",
        "ms-viewport",
        "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    )


def test_gitlab_merge_request_envelope_ignores_the_fork() -> None:
    """The source project of a merge request from a fork is not one of the repository URLs."""
    _, headers, body = request_for("gitlab_merge_request_open", SECRET, "k")
    env = PROVIDERS["gitlab"].envelope(lower(headers), body)
    assert isinstance(env, Envelope) and env.repository_keys == {"gitlab.example.com/group/sub/app"}


@pytest.mark.parametrize("name", ["gitlab_merge_request_merge", "gitlab_merge_request_update_title"])
def test_gitlab_merge_request_ignored(name: str) -> None:
    """A merge, or an update that only edits metadata (no oldrev), answers 200."""
    assert refusal(name).status == 200


def test_gitlab_unsupported_event() -> None:
    """A GitLab event c8s does not handle is a 200 no-op naming it (GitLab disables failing hooks)."""
    r = refusal("gitlab_push", extra={"X-Gitlab-Event": "Issue Hook"})
    assert r.status == 200 and "'Issue Hook'" in r.reason


def test_bitbucket_push() -> None:
    """repo:push gives the new branch, its target hash and the actor's nickname."""
    d = delivery("bitbucket_repo_push")
    assert (d.kind, d.branch, d.commit, d.actor) == (
        "push", "main", "1e65c05c1d5171631d92438a13901ca7dae9618c", "emma",
    )  # fmt: skip


def test_bitbucket_tag_push() -> None:
    """A new tag in repo:push is a tag event."""
    d = delivery("bitbucket_repo_push_tag")
    assert (d.kind, d.branch) == ("tag", "v2.0.0")


def test_bitbucket_deletion_is_ignored() -> None:
    """A push whose only change has new = null answers 200."""
    assert refusal("bitbucket_repo_push_delete").status == 200


@pytest.mark.parametrize("event", ["pullrequest:created", "pullrequest:updated"])
def test_bitbucket_pull_request(event: str) -> None:
    """A created or updated pull request runs its source branch at its (12-hex) source commit."""
    parsed = parse("bitbucket_pullrequest_created", extra={"X-Event-Key": event})
    assert isinstance(parsed, list) and len(parsed) == 1
    d = parsed[0]
    assert (d.kind, d.branch, d.commit, d.target_branch) == (
        "pull_request",
        "feature/matrix",
        "d3022fc0ca3d",
        "main",
    )


def test_bitbucket_delivery_is_request_uuid() -> None:
    """X-Request-UUID is the delivery id (X-Hook-UUID names the webhook, not the delivery)."""
    assert delivery("bitbucket_repo_push").delivery == "d-1"


def test_bitbucket_push_missing_changes_is_named() -> None:
    """A repo:push without push.changes is a 400 naming the field."""
    r = refusal("bitbucket_repo_push", json.dumps({"repository": {"full_name": "team-a/app"}}).encode())
    assert r.status == 400 and "`push`" in r.reason


def test_bad_commit_sha_is_400() -> None:
    """A commit that is not 7-40 hex characters is refused, naming the field."""
    data = json.loads(request_for("github_push", SECRET, "d")[2]) | {"after": "not-a-sha"}
    r = refusal("github_push", json.dumps(data).encode())
    assert r.status == 400 and "after" in r.reason


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_fixture_signatures_verify_only_with_the_right_secret(name: str) -> None:
    """Every fixture verifies with its secret and fails with another, or with its body changed."""
    provider, headers, body = request_for(name, SECRET, "d")
    p, hdrs = PROVIDERS[provider], lower(headers)
    assert p.verify(hdrs, body, SECRET)
    assert not p.verify(hdrs, body, b"other")
    assert not p.verify(hdrs, body, b"")
    if provider != "gitlab":  # GitLab's token does not cover the body
        assert not p.verify(hdrs, body + b" ", SECRET)


def test_hmac_rejects_other_forms() -> None:
    """Only `sha256=<hex>` of the exact body verifies: no bare hex, no sha1, no empty header."""
    good = sign(SECRET, b"body")
    assert verify_hmac(SECRET, b"body", good)
    assert verify_hmac(SECRET, b"body", good.upper().replace("SHA256=", "sha256="))
    for bad in (good.removeprefix("sha256="), "sha1=" + good[7:], "", "sha256=", good[:-1], good + "0"):
        assert not verify_hmac(SECRET, b"body", bad)


def test_token_compare() -> None:
    """The GitLab token must equal the secret; surrounding whitespace and newlines are ignored."""
    assert verify_token(b"tok\n", "tok")
    assert not verify_token(b"tok", "to")
    assert not verify_token(b"", "")
    assert not verify_token(b"tok", "tök")
