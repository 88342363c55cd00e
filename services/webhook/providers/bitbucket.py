"""Bitbucket Cloud webhooks: repo:push, pullrequest:created/updated, comment commands; others 200.

Headers (support.atlassian.com, Bitbucket Cloud "Event payloads"): `X-Event-Key` names the event,
`X-Request-UUID` identifies the request (the delivery id; `X-Hook-UUID` names the webhook, the
same for all its deliveries, so it cannot be one), `X-Hub-Signature` is `sha256=<hex>` of the raw
body when the webhook has a secret.

- repo:push: one Delivery per change with a `new` state (a branch or a tag and its target commit):
  Bitbucket bundles several refs in one delivery where GitHub and GitLab send one per ref, and
  each ref gets its runs; a push that only deletes refs (every `new` null) starts nothing (200);
- pullrequest:created/updated: the source branch and source commit hash (Bitbucket sends 12 hex);
  the destination branch is the target the branch filters apply to; the id is the run's number; a
  source repository other than the destination is a fork (Bitbucket keeps no PR ref in the
  destination: the head is cloned from the fork);
- pullrequest:comment_created whose raw content holds `/retest` or `/cancel`: a comment Delivery
  with the pull request's head (as for pullrequest:updated), the comment id and its author
  (`nickname`, and the account `uuid` the permissions API filters on); other comments 200;
- any other event (pullrequest:fulfilled/rejected, ...): 200, nothing done.
Repository URL: repository.links.html.href (and https://bitbucket.org/<full_name>); the identity
the notifier uses is repository.full_name (workspace/slug).
"""

from __future__ import annotations

from typing import Final

from msgspec import Struct
from msgspec.structs import replace

from services.webhook.providers.model import (
    Delivery,
    Envelope,
    EventKind,
    Headers,
    Refusal,
    command_in,
    commit_sha,
    decode,
    delivery_id,
    header,
    no_command,
    same_repository,
    unsupported,
    urls,
)
from services.webhook.providers.signatures import verify_hmac

NAME: Final = "bitbucket"
#: Where the delivery id is, in order of preference.
DELIVERY_HEADERS = ("X-Request-UUID",)
EVENTS = ("repo:push", "pullrequest:created", "pullrequest:updated", "pullrequest:comment_created")
REF_KINDS: dict[str, EventKind] = {
    "branch": "push",
    "named_branch": "push",
    "tag": "tag",
    "annotated_tag": "tag",
}


class _Link(Struct, frozen=True):
    href: str | None = None


class _Links(Struct, frozen=True):
    html: _Link | None = None


class _Repository(Struct, frozen=True):
    full_name: str | None = None
    links: _Links | None = None

    def urls(self) -> tuple[str, ...]:
        html = self.links.html.href if self.links and self.links.html else None
        return urls(html, f"https://bitbucket.org/{self.full_name}" if self.full_name else None)


class _Envelope(Struct, frozen=True):
    repository: _Repository | None = None


class _Account(Struct, frozen=True):
    nickname: str = ""
    display_name: str = ""
    uuid: str = ""

    @property
    def name(self) -> str:
        return self.nickname or self.display_name


class _Commit(Struct, frozen=True):
    hash: str


class _Ref(Struct, frozen=True):
    type: str
    name: str
    target: _Commit


class _Change(Struct, frozen=True):
    new: _Ref | None = None


class _PushDetails(Struct, frozen=True):
    changes: list[_Change]


class _Push(Struct, frozen=True):
    push: _PushDetails
    actor: _Account | None = None


class _Branch(Struct, frozen=True):
    name: str


class _Source(Struct, frozen=True):
    branch: _Branch
    commit: _Commit
    repository: _Repository | None = None


class _Destination(Struct, frozen=True):
    branch: _Branch | None = None
    repository: _Repository | None = None


class _PullRequest(Struct, frozen=True):
    source: _Source
    destination: _Destination | None = None
    id: int | None = None

    @property
    def fork(self) -> bool:
        src, dst = self.source.repository, self.destination.repository if self.destination else None
        if src is None or dst is None or not src.full_name or not dst.full_name:
            return False
        return not same_repository(src.full_name, dst.full_name)


class _PullRequestEvent(Struct, frozen=True):
    pullrequest: _PullRequest
    actor: _Account | None = None


class _Content(Struct, frozen=True):
    raw: str | None = None


class _Comment(Struct, frozen=True):
    id: int
    content: _Content | None = None
    user: _Account | None = None


class _CommentEvent(Struct, frozen=True):
    pullrequest: _PullRequest
    comment: _Comment
    actor: _Account | None = None


def envelope(headers: Headers, body: bytes) -> Envelope | Refusal:
    parsed = decode(body, _Envelope, "Bitbucket")
    if isinstance(parsed, Refusal):
        return parsed
    found = parsed.repository.urls() if parsed.repository else ()
    if not found:
        return Refusal(status=400, reason="payload names no repository (repository.links.html.href)")
    delivery = delivery_id(headers, DELIVERY_HEADERS, body)
    event = header(headers, "X-Event-Key")
    identity = (parsed.repository.full_name if parsed.repository else None) or ""
    return Envelope(provider=NAME, delivery=delivery, event=event, repository_urls=found, identity=identity)


def verify(headers: Headers, body: bytes, secret: bytes) -> bool:
    return verify_hmac(secret, body, header(headers, "X-Hub-Signature"))


def interpret(env: Envelope, headers: Headers, body: bytes) -> Delivery | list[Delivery] | Refusal:
    if env.event == "repo:push":
        return _push(env, body)
    if env.event in ("pullrequest:created", "pullrequest:updated"):
        return _pull_request(env, body)
    if env.event == "pullrequest:comment_created":
        return _comment(env, body)
    if not env.event:
        return Refusal(status=400, reason="missing X-Event-Key header")
    return unsupported("Bitbucket", env.event, EVENTS)


def _push(env: Envelope, body: bytes) -> list[Delivery] | Refusal:
    push = decode(body, _Push, "Bitbucket repo:push")
    if isinstance(push, Refusal):
        return push
    refs = [c.new for c in push.push.changes if c.new is not None]
    if not refs:
        return Refusal(status=200, reason="push only deleted refs: nothing to run")
    actor = push.actor.name if push.actor else ""
    parsed = [_ref_delivery(env, ref, actor) for ref in refs]
    found = [p for p in parsed if isinstance(p, Delivery)]
    refusals = [p for p in parsed if isinstance(p, Refusal)]
    malformed = [r for r in refusals if r.status != 200]
    if malformed or not found:
        return (malformed or refusals)[0]
    return [replace(d, part=i) for i, d in enumerate(found)]


def _ref_delivery(env: Envelope, ref: _Ref, actor: str) -> Delivery | Refusal:
    kind = REF_KINDS.get(ref.type)
    if kind is None:
        return Refusal(status=200, reason=f"push to a {ref.type[:32]!r} is neither a branch nor a tag")
    sha = commit_sha(ref.target.hash, "push.changes[].new.target.hash")
    if isinstance(sha, Refusal):
        return sha
    return Delivery(
        provider=NAME,
        delivery=env.delivery,
        kind=kind,
        repository_urls=env.repository_urls,
        commit=sha,
        branch=ref.name,
        actor=actor,
        identity=env.identity,
    )


def _comment(env: Envelope, body: bytes) -> Delivery | Refusal:
    event = decode(body, _CommentEvent, "Bitbucket pullrequest:comment_created")
    if isinstance(event, Refusal):
        return event
    content = event.comment.content or _Content()
    command = command_in(content.raw or "")
    if command is None:
        return no_command("Bitbucket")
    head = _head(env, _PullRequestEvent(pullrequest=event.pullrequest, actor=event.actor))
    if isinstance(head, Refusal):
        return head
    author = event.comment.user or event.actor or _Account()
    return replace(
        head, kind="comment", actor=author.name, command=command,
        comment_id=str(event.comment.id), commenter_id=author.uuid,
    )  # fmt: skip


def _pull_request(env: Envelope, body: bytes) -> Delivery | Refusal:
    event = decode(body, _PullRequestEvent, f"Bitbucket {env.event}")
    if isinstance(event, Refusal):
        return event
    return _head(env, event)


def _head(env: Envelope, event: _PullRequestEvent) -> Delivery | Refusal:
    """A pull request's head as a Delivery (source branch and commit, target, fork)."""
    source, destination = event.pullrequest.source, event.pullrequest.destination
    sha = commit_sha(source.commit.hash, "pullrequest.source.commit.hash")
    if isinstance(sha, Refusal):
        return sha
    return Delivery(
        provider=NAME,
        delivery=env.delivery,
        kind="pull_request",
        repository_urls=env.repository_urls,
        commit=sha,
        branch=source.branch.name,
        actor=event.actor.name if event.actor else "",
        target_branch=destination.branch.name if destination and destination.branch else "",
        identity=env.identity,
        number=event.pullrequest.id,
        source_repository=_clone_url(source.repository),
        fork=event.pullrequest.fork,
    )


def _clone_url(repository: _Repository | None) -> str:
    """What `git clone` takes for a Bitbucket repository (its web URL clones over https)."""
    found = repository.urls() if repository else ()
    return found[0] if found else ""
