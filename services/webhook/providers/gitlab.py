"""GitLab webhooks: Push Hook, Tag Push Hook, Merge Request Hook, Note Hook commands; every other
event 200.

Headers (docs.gitlab.com, "Webhooks" and "Webhook events"): `X-Gitlab-Event` names the event,
`X-Gitlab-Token` is the secret token itself, `Idempotency-Key` (GitLab 17.4+) stays the same across
retries of one delivery; older servers send only `X-Gitlab-Event-UUID`.

- Push Hook / Tag Push Hook: the commit is `checkout_sha` (else `after`); a deletion (`after` all
  zeros, no `checkout_sha`) starts nothing (200);
- Merge Request Hook with action open/reopen, or update with new commits (`oldrev` present, as
  GitLab sends it only when the source branch moved): the source branch and `last_commit.id`
  (target_branch is what the branch filters apply to);
  other actions and metadata-only updates 200. The iid is the run's number; a source project
  other than the target is a fork, whose head is also at refs/merge-requests/<iid>/head;
- Note Hook on a merge request (`noteable_type` MergeRequest, action create or none, as older
  servers send) whose note holds `/retest` or `/cancel`: a comment Delivery with the merge
  request's iid, head (`merge_request.last_commit.id`, source and target branch, fork), the note id
  and the author (`user.username`, and `user.id` for the members API); other notes 200;
- any other event (Issue Hook, ...): 200, nothing done (GitLab disables a hook after
  four failed deliveries in a row: four comments would silence pushes).
Repository URLs: project.git_http_url/git_ssh_url/web_url (and the MR's target project); the
identity the notifier uses is project.path_with_namespace (groups and subgroups included).
"""

from __future__ import annotations

from typing import Final

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
    split_ref,
    unsupported,
    urls,
)
from services.webhook.providers.signatures import verify_token

NAME: Final = "gitlab"
#: Where the delivery id is, in order of preference.
DELIVERY_HEADERS = ("Idempotency-Key", "X-Gitlab-Event-UUID")
EVENTS = ("Push Hook", "Tag Push Hook", "Merge Request Hook", "Note Hook")
MR_ACTIONS = frozenset({"open", "reopen", "update"})


class _Project(Struct, frozen=True):
    git_http_url: str | None = None
    git_ssh_url: str | None = None
    web_url: str | None = None
    http_url: str | None = None
    ssh_url: str | None = None
    path_with_namespace: str | None = None

    def urls(self) -> tuple[str, ...]:
        return urls(self.git_http_url, self.git_ssh_url, self.web_url, self.http_url, self.ssh_url)


class _Attributes(Struct, frozen=True):
    target: _Project | None = None


class _Envelope(Struct, frozen=True):
    project: _Project | None = None
    repository: _Project | None = None
    object_attributes: _Attributes | None = None


class _Push(Struct, frozen=True):
    ref: str
    after: str
    checkout_sha: str | None = None
    user_username: str = ""
    user_name: str = ""


class _Commit(Struct, frozen=True):
    id: str


class _MergeRequest(Struct, frozen=True):
    source_branch: str
    last_commit: _Commit
    target_branch: str = ""
    action: str = ""
    oldrev: str | None = None
    iid: int | None = None
    source_project_id: int | None = None
    target_project_id: int | None = None
    source: _Project | None = None

    @property
    def fork(self) -> bool:
        return self.source_project_id != self.target_project_id


class _User(Struct, frozen=True):
    username: str = ""
    id: int | None = None


class _MergeRequestEvent(Struct, frozen=True):
    object_attributes: _MergeRequest
    user: _User | None = None


class _Note(Struct, frozen=True):
    id: int
    note: str | None = None
    noteable_type: str = ""
    action: str = "create"


class _NotedMergeRequest(Struct, frozen=True):
    iid: int
    source_branch: str = ""
    target_branch: str = ""
    last_commit: _Commit | None = None
    source_project_id: int | None = None
    target_project_id: int | None = None
    source: _Project | None = None


class _NoteEvent(Struct, frozen=True):
    object_attributes: _Note
    merge_request: _NotedMergeRequest | None = None
    user: _User | None = None


def envelope(headers: Headers, body: bytes) -> Envelope | Refusal:
    parsed = decode(body, _Envelope, "GitLab")
    if isinstance(parsed, Refusal):
        return parsed
    target = parsed.object_attributes.target if parsed.object_attributes else None
    projects = (p for p in (parsed.project, parsed.repository, target) if p is not None)
    found = urls(*(u for p in projects for u in p.urls()))
    if not found:
        return Refusal(status=400, reason="payload names no repository (project.git_http_url/web_url)")
    delivery = delivery_id(headers, DELIVERY_HEADERS, body)
    event = header(headers, "X-Gitlab-Event")
    named = parsed.project or target
    identity = (named.path_with_namespace if named else None) or ""
    return Envelope(provider=NAME, delivery=delivery, event=event, repository_urls=found, identity=identity)


def verify(headers: Headers, body: bytes, secret: bytes) -> bool:
    return verify_token(secret, header(headers, "X-Gitlab-Token"))


def interpret(env: Envelope, headers: Headers, body: bytes) -> Delivery | Refusal:
    if env.event in ("Push Hook", "Tag Push Hook"):
        return _push(env, body)
    if env.event == "Merge Request Hook":
        return _merge_request(env, body)
    if env.event == "Note Hook":
        return _note(env, body)
    if not env.event:
        return Refusal(status=400, reason="missing X-Gitlab-Event header")
    return unsupported("GitLab", env.event, EVENTS)


def _push(env: Envelope, body: bytes) -> Delivery | Refusal:
    push = decode(body, _Push, f"GitLab {env.event}")
    if isinstance(push, Refusal):
        return push
    if ZERO_SHA.match(push.after) and not push.checkout_sha:
        return Refusal(status=200, reason=f"{push.ref} was deleted: nothing to run")
    kind, name = split_ref(push.ref)
    if kind is None:
        return Refusal(status=200, reason=f"push to {push.ref} is neither a branch nor a tag: nothing to run")
    sha = commit_sha(push.checkout_sha or push.after, "checkout_sha")
    if isinstance(sha, Refusal):
        return sha
    return Delivery(
        provider=NAME,
        delivery=env.delivery,
        kind=kind,
        repository_urls=env.repository_urls,
        commit=sha,
        branch=name,
        actor=push.user_username or push.user_name,
        identity=env.identity,
    )


def _merge_request(env: Envelope, body: bytes) -> Delivery | Refusal:
    event = decode(body, _MergeRequestEvent, "GitLab Merge Request Hook")
    if isinstance(event, Refusal):
        return event
    mr = event.object_attributes
    if mr.action not in MR_ACTIONS:
        return Refusal(status=200, reason=f"merge request action {mr.action!r} starts nothing")
    if mr.action == "update" and not mr.oldrev:
        return Refusal(status=200, reason="merge request update without new commits starts nothing")
    sha = commit_sha(mr.last_commit.id, "object_attributes.last_commit.id")
    if isinstance(sha, Refusal):
        return sha
    return Delivery(
        provider=NAME,
        delivery=env.delivery,
        kind="pull_request",
        repository_urls=env.repository_urls,
        commit=sha,
        branch=mr.source_branch,
        actor=event.user.username if event.user else "",
        target_branch=mr.target_branch,
        identity=env.identity,
        number=mr.iid,
        source_repository=(mr.source.git_http_url or "") if mr.source else "",
        fork=mr.fork,
    )


def _note(env: Envelope, body: bytes) -> Delivery | Refusal:
    event = decode(body, _NoteEvent, "GitLab Note Hook")
    if isinstance(event, Refusal):
        return event
    note, mr = event.object_attributes, event.merge_request
    if note.noteable_type != "MergeRequest" or note.action != "create" or mr is None:
        return Refusal(status=200, reason="not a new merge request note: nothing to do")
    command = command_in(note.note or "")
    if command is None:
        return no_command("GitLab")
    sha = commit_sha(mr.last_commit.id, "merge_request.last_commit.id") if mr.last_commit else ""
    if isinstance(sha, Refusal):
        return sha
    user = event.user or _User()
    return Delivery(
        provider=NAME, delivery=env.delivery, kind="comment", repository_urls=env.repository_urls,
        commit=sha, branch=mr.source_branch, actor=user.username, target_branch=mr.target_branch,
        identity=env.identity, number=mr.iid, fork=mr.source_project_id != mr.target_project_id,
        source_repository=(mr.source.git_http_url or "") if mr.source else "",
        command=command, comment_id=str(note.id), commenter_id=str(user.id) if user.id is not None else "",
    )  # fmt: skip
