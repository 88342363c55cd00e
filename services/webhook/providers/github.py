"""GitHub webhooks: push (branches and tags), pull_request, issue_comment commands, ping; every
other event 200.

Headers (docs.github.com, "Webhook events and payloads"): `X-GitHub-Event` names the event,
`X-GitHub-Delivery` is the delivery GUID (kept on redelivery), `X-Hub-Signature-256` is
`sha256=<hex>` of the raw body. The body is JSON, or `payload=<json>` when the hook was set up
with content type application/x-www-form-urlencoded (the signature still covers the raw body).

- push to refs/heads/B or refs/tags/T: the commit is `after`, except for a tag, whose `after` may
  be an annotated tag object: there the commit is `head_commit.id`, what the tag points to; a
  deletion (`deleted`, or `after` all zeros) starts nothing (200);
- pull_request opened/synchronize/reopened: the head branch and head SHA (the base branch is the
  target the branch filters apply to), the number, and the head repository (a fork when it is not
  the base repository; its head is also at refs/pull/<n>/head of the base); other actions 200;
- issue_comment created on a pull request (`issue.pull_request` present) whose body holds
  `/retest` or `/cancel`: a comment Delivery (number, comment id, commenter login; GitHub sends
  no head commit with it: the notifier asks the API); edits, deletions, issue comments and other
  comments 200;
- ping: 200, once the signature held (it proves the secret is right); an organization's ping,
  which names no repository, 200 at once (it can start nothing and reveals nothing);
- any other event (create, issues, ...): 200, nothing done.
The repository's identity (owner/repo for the notifier) is `repository.full_name`.
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
    command_in,
    commit_sha,
    decode,
    delivery_id,
    header,
    no_command,
    same_repository,
    split_ref,
    unsupported,
    urls,
)
from services.webhook.providers.signatures import verify_hmac

NAME: Final = "github"
#: Where the delivery id is, in order of preference.
DELIVERY_HEADERS = ("X-GitHub-Delivery",)
EVENTS = ("push", "pull_request", "issue_comment", "ping")
#: Events that name a repository when they mean something to c8s; without one, malformed.
REPOSITORY_EVENTS = frozenset({"push", "pull_request", "issue_comment"})
PR_ACTIONS = frozenset({"opened", "synchronize", "reopened"})


class _Repository(Struct, frozen=True):
    full_name: str | None = None
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


class _Commit(Struct, frozen=True):
    id: str


class _Push(Struct, frozen=True):
    ref: str
    after: str
    deleted: bool = False
    head_commit: _Commit | None = None
    sender: _User | None = None
    pusher: _Pusher | None = None


class _Head(Struct, frozen=True):
    ref: str
    sha: str
    repo: _Repository | None = None


class _Base(Struct, frozen=True):
    ref: str = ""
    repo: _Repository | None = None


class _PullRequest(Struct, frozen=True):
    head: _Head
    base: _Base | None = None
    number: int | None = None


class _PullRequestEvent(Struct, frozen=True):
    action: str
    pull_request: _PullRequest
    sender: _User | None = None
    number: int | None = None


class _IssuePullRequest(Struct, frozen=True):
    url: str = ""


class _Issue(Struct, frozen=True):
    number: int
    pull_request: _IssuePullRequest | None = None


class _CommentUser(Struct, frozen=True):
    login: str = ""
    id: int | None = None


class _Comment(Struct, frozen=True):
    id: int
    body: str | None = None
    user: _CommentUser | None = None


class _IssueCommentEvent(Struct, frozen=True):
    action: str
    issue: _Issue
    comment: _Comment


def envelope(headers: Headers, body: bytes) -> Envelope | Refusal:
    payload = json_body(headers, body)
    if isinstance(payload, Refusal):
        return payload
    parsed = decode(payload, _Envelope, "GitHub")
    if isinstance(parsed, Refusal):
        return parsed
    repo = parsed.repository or _Repository()
    found = urls(repo.clone_url, repo.html_url, repo.ssh_url, repo.git_url)
    event = header(headers, "X-GitHub-Event")
    if not found:
        return _no_repository(event)
    delivery = delivery_id(headers, DELIVERY_HEADERS, body)
    identity = repo.full_name or ""
    return Envelope(provider=NAME, delivery=delivery, event=event, repository_urls=found, identity=identity)


def _no_repository(event: str) -> Refusal:
    """An organization-level delivery (a ping, a membership change) starts nothing: 200; a push or
    pull request must name its repository: 400."""
    if event and event not in REPOSITORY_EVENTS:
        return Refusal(status=200, reason=f"{event[:64]!r} names no repository: nothing to run")
    return Refusal(status=400, reason="payload names no repository (repository.clone_url/html_url)")


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
    if env.event == "issue_comment":
        return _issue_comment(env, payload)
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
    pointed = push.head_commit.id if kind == "tag" and push.head_commit else ""
    sha = commit_sha(pointed or push.after, "head_commit.id" if pointed else "after")
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
        identity=env.identity,
    )


def _pull_request(env: Envelope, payload: bytes) -> Delivery | Refusal:
    event = decode(payload, _PullRequestEvent, "GitHub pull_request")
    if isinstance(event, Refusal):
        return event
    if event.action not in PR_ACTIONS:
        return Refusal(status=200, reason=f"pull_request action {event.action!r} starts nothing")
    pr = event.pull_request
    sha = commit_sha(pr.head.sha, "pull_request.head.sha")
    if isinstance(sha, Refusal):
        return sha
    source = pr.head.repo
    return Delivery(
        provider=NAME,
        delivery=env.delivery,
        kind="pull_request",
        repository_urls=env.repository_urls,
        commit=sha,
        branch=pr.head.ref,
        actor=event.sender.login if event.sender else "",
        target_branch=pr.base.ref if pr.base else "",
        identity=env.identity,
        number=pr.number if pr.number is not None else event.number,
        source_repository=(source.clone_url or "") if source else "",
        fork=_is_fork(pr, env.identity),
    )


def _issue_comment(env: Envelope, payload: bytes) -> Delivery | Refusal:
    event = decode(payload, _IssueCommentEvent, "GitHub issue_comment")
    if isinstance(event, Refusal):
        return event
    if event.action != "created" or event.issue.pull_request is None:
        return Refusal(status=200, reason="not a new pull request comment: nothing to do")
    command = command_in(event.comment.body or "")
    if command is None:
        return no_command("GitHub")
    user = event.comment.user or _CommentUser()
    return Delivery(
        provider=NAME,
        delivery=env.delivery,
        kind="comment",
        repository_urls=env.repository_urls,
        actor=user.login,
        identity=env.identity,
        number=event.issue.number,
        command=command,
        comment_id=str(event.comment.id),
        commenter_id=str(user.id) if user.id is not None else "",
    )


def _is_fork(pr: _PullRequest, identity: str) -> bool:
    """The head is in another repository than the base (GitHub sends no head repo once the fork
    is deleted: its head is then only in the base's refs/pull/<n>/head, as a fork's is)."""
    if pr.head.repo is None:
        return True
    base = (pr.base.repo.full_name if pr.base and pr.base.repo else None) or identity
    return not same_repository(pr.head.repo.full_name or base, base)


def _unsupported(event: str) -> Refusal:
    if not event:
        return Refusal(status=400, reason="missing X-GitHub-Event header")
    return unsupported("GitHub", event, EVENTS)
