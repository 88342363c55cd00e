"""GitHub webhooks: push (branches and tags), pull_request, ping.

Headers (docs.github.com, "Webhook events and payloads"): `X-GitHub-Event` names the event,
`X-GitHub-Delivery` is the delivery GUID (kept on redelivery), `X-Hub-Signature-256` is
`sha256=<hex>` of the raw body. The body is JSON, or `payload=<json>` when the hook was set up
with content type application/x-www-form-urlencoded (the signature still covers the raw body).

- push to refs/heads/B or refs/tags/T: the commit is `after`; a deletion (`deleted`, or `after`
  all zeros) starts nothing (200);
- pull_request opened/synchronize/reopened: the head branch and head SHA (the base branch is the
  target the branch filters apply to); other actions 200;
- ping: 200, once the signature held (it proves the secret is right).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qs

from msgspec import Struct

from services.webhook.providers.model import (
    ZERO_SHA,
    Delivery,
    Envelope,
    Headers,
    Refusal,
    commit_sha,
    decode,
    delivery_id,
    header,
    split_ref,
    unsupported,
    urls,
)
from services.webhook.providers.signatures import verify_hmac

NAME: Final = "github"
#: Where the delivery id is, in order of preference.
DELIVERY_HEADERS = ("X-GitHub-Delivery",)
EVENTS = ("push", "pull_request", "ping")
PR_ACTIONS = frozenset({"opened", "synchronize", "reopened"})


class _Repository(Struct, frozen=True):
    clone_url: str | None = None
    html_url: str | None = None
    ssh_url: str | None = None
    git_url: str | None = None


class _Envelope(Struct, frozen=True):
    repository: _Repository | None = None


class _User(Struct, frozen=True):
    login: str = ""


class _Pusher(Struct, frozen=True):
    name: str = ""


class _Push(Struct, frozen=True):
    ref: str
    after: str
    deleted: bool = False
    sender: _User | None = None
    pusher: _Pusher | None = None


class _Head(Struct, frozen=True):
    ref: str
    sha: str


class _Base(Struct, frozen=True):
    ref: str = ""


class _PullRequest(Struct, frozen=True):
    head: _Head
    base: _Base | None = None


class _PullRequestEvent(Struct, frozen=True):
    action: str
    pull_request: _PullRequest
    sender: _User | None = None


def envelope(headers: Headers, body: bytes) -> Envelope | Refusal:
    payload = json_body(headers, body)
    if isinstance(payload, Refusal):
        return payload
    parsed = decode(payload, _Envelope, "GitHub")
    if isinstance(parsed, Refusal):
        return parsed
    repo = parsed.repository or _Repository()
    found = urls(repo.clone_url, repo.html_url, repo.ssh_url, repo.git_url)
    if not found:
        return Refusal(status=400, reason="payload names no repository (repository.clone_url/html_url)")
    delivery = delivery_id(headers, DELIVERY_HEADERS, body)
    event = header(headers, "X-GitHub-Event")
    return Envelope(provider=NAME, delivery=delivery, event=event, repository_urls=found)


def verify(headers: Headers, body: bytes, secret: bytes) -> bool:
    return verify_hmac(secret, body, header(headers, "X-Hub-Signature-256"))


def interpret(env: Envelope, headers: Headers, body: bytes) -> Delivery | Refusal:
    payload = json_body(headers, body)
    if isinstance(payload, Refusal):
        return payload
    if env.event == "push":
        return _push(env, payload)
    if env.event == "pull_request":
        return _pull_request(env, payload)
    if env.event == "ping":
        return Delivery(
            provider=NAME, delivery=env.delivery, kind="ping", repository_urls=env.repository_urls
        )
    return _unsupported(env.event)


def json_body(headers: Headers, body: bytes) -> bytes | Refusal:
    """The JSON document, unwrapped from the form encoding when the hook uses it."""
    if not header(headers, "Content-Type").startswith("application/x-www-form-urlencoded"):
        return body
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as e:
        return Refusal(status=400, reason=f"malformed form body: {e}")
    values = form.get("payload")
    if not values:
        return Refusal(status=400, reason="form body has no payload field")
    return values[0].encode()


def _push(env: Envelope, payload: bytes) -> Delivery | Refusal:
    push = decode(payload, _Push, "GitHub push")
    if isinstance(push, Refusal):
        return push
    if push.deleted or ZERO_SHA.match(push.after):
        return Refusal(status=200, reason=f"{push.ref} was deleted: nothing to run")
    kind, name = split_ref(push.ref)
    if kind is None:
        return Refusal(status=200, reason=f"push to {push.ref} is neither a branch nor a tag: nothing to run")
    sha = commit_sha(push.after, "after")
    if isinstance(sha, Refusal):
        return sha
    actor = (push.sender.login if push.sender else "") or (push.pusher.name if push.pusher else "")
    return Delivery(
        provider=NAME,
        delivery=env.delivery,
        kind=kind,
        repository_urls=env.repository_urls,
        commit=sha,
        branch=name,
        actor=actor,
    )


def _pull_request(env: Envelope, payload: bytes) -> Delivery | Refusal:
    event = decode(payload, _PullRequestEvent, "GitHub pull_request")
    if isinstance(event, Refusal):
        return event
    if event.action not in PR_ACTIONS:
        return Refusal(status=200, reason=f"pull_request action {event.action!r} starts nothing")
    head = event.pull_request.head
    sha = commit_sha(head.sha, "pull_request.head.sha")
    if isinstance(sha, Refusal):
        return sha
    return Delivery(
        provider=NAME,
        delivery=env.delivery,
        kind="pull_request",
        repository_urls=env.repository_urls,
        commit=sha,
        branch=head.ref,
        actor=event.sender.login if event.sender else "",
        target_branch=event.pull_request.base.ref if event.pull_request.base else "",
    )


def _unsupported(event: str) -> Refusal:
    if not event:
        return Refusal(status=400, reason="missing X-GitHub-Event header")
    return Refusal(status=400, reason=unsupported("GitHub", event, EVENTS))
