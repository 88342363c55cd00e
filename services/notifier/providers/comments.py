"""The providers' REST APIs for comment commands, as pure request builders and answer readers.

Documented shapes:
- GitHub (docs.github.com, REST "Collaborators", "Reactions", "Pulls"):
  GET /repos/{owner}/{repo}/collaborators/{username}/permission -> {permission:
  admin|write|read|none} (`maintain` reads as write, `triage` as read; 404 for a user who is no
  collaborator); POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions {content:
  "+1"|"confused"} -> 201 (200 when that reaction is already there); GET
  /repos/{owner}/{repo}/pulls/{number} -> {state, head: {sha, ref, repo: {full_name, clone_url}},
  base: {ref, repo: {full_name}}} (an issue_comment delivery carries no head commit).
- GitLab (docs.gitlab.com, "Group and project members API", "Emoji reactions API"):
  GET /projects/:id/members/all/:user_id -> {access_level} (inherited members included; 30 is
  Developer, the first level that may push; 404 for a non-member); POST
  /projects/:id/merge_requests/:iid/notes/:note_id/award_emoji {name: thumbsup|confused} -> 201.
- Bitbucket Cloud (developer.atlassian.com, REST "Workspaces": "List a repository permissions for
  a workspace", and "Pullrequests" comments): GET
  /workspaces/{workspace}/permissions/repositories/{repo_slug}?q=user.uuid="{uuid}" -> {values:
  [{permission: admin|write|read, user: {uuid}}]} (effective permissions, groups included; the
  token must be a repository admin's); the rows are checked against the uuid here too, so a
  filter the server ignored can never lend someone else's permission. Bitbucket has no reactions:
  the answer is a reply, POST /repositories/{workspace}/{repo_slug}/pullrequests/{id}/comments
  {content: {raw}, parent: {id}} -> 201.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

import msgspec
from msgspec import Struct

from events.command import CommandEvent
from ports.http import HttpRequest, HttpResponse
from services.notifier.providers import bitbucket, github, gitlab
from services.notifier.providers.model import Credentials

#: GitLab's Developer access level: the lowest that may push to a repository.
GITLAB_DEVELOPER: Final = 30
WRITERS: Final = frozenset({"admin", "write", "maintain"})


class Head(Struct, frozen=True, kw_only=True):
    """A pull request's head as GitHub's API gives it."""

    commit: str
    branch: str
    target_branch: str
    source_repository: str
    fork: bool
    open: bool


class _GitHubPermission(Struct):
    permission: str = "none"


class _GitLabMember(Struct):
    access_level: int = 0


class _BbUser(Struct):
    uuid: str = ""


class _BbPermission(Struct):
    permission: str = ""
    user: _BbUser | None = None


class _BbPermissions(Struct):
    values: list[_BbPermission] = msgspec.field(default_factory=list)


class _Repo(Struct):
    full_name: str = ""
    clone_url: str = ""


class _Ref(Struct):
    ref: str = ""
    sha: str = ""
    repo: _Repo | None = None


class _Pull(Struct):
    state: str = ""
    head: _Ref = msgspec.field(default_factory=_Ref)
    base: _Ref = msgspec.field(default_factory=_Ref)


def permission_request(
    provider: str, api: str, where: str, creds: Credentials, command: CommandEvent
) -> HttpRequest:
    """The question "may the commenter write to the repository?"; `where` is the API's name of it."""
    if provider == "github":
        url = f"{api}/repos/{where}/collaborators/{quote(command.commenter, safe='')}/permission"
        return HttpRequest(method="GET", url=url, headers=github.auth_headers(creds))
    if provider == "gitlab":
        url = f"{api}/projects/{where}/members/all/{quote(command.commenter_id, safe='')}"
        return HttpRequest(method="GET", url=url, headers=gitlab.auth_headers(creds))
    workspace, _, slug = where.partition("/")
    query = quote(f'user.uuid="{command.commenter_id}"', safe="")
    url = f"{api}/workspaces/{workspace}/permissions/repositories/{slug}?q={query}"
    return HttpRequest(method="GET", url=url, headers=bitbucket.auth_headers(creds))


def may_write(provider: str, response: HttpResponse, command: CommandEvent) -> bool:
    """Whether the answer grants write access (any other answer, 404 included, does not)."""
    if not response.ok:
        return False
    try:
        if provider == "github":
            return msgspec.json.decode(response.content, type=_GitHubPermission).permission in WRITERS
        if provider == "gitlab":
            level = msgspec.json.decode(response.content, type=_GitLabMember).access_level
            return level >= GITLAB_DEVELOPER
        rows = msgspec.json.decode(response.content, type=_BbPermissions).values
    except msgspec.DecodeError:
        return False
    mine = [
        r for r in rows if r.user is not None and command.commenter_id and r.user.uuid == command.commenter_id
    ]
    return any(r.permission in WRITERS for r in mine)


def answer_request(
    provider: str, api: str, where: str, creds: Credentials, command: CommandEvent, accepted: bool, text: str
) -> HttpRequest:
    """A reaction on the comment (GitHub +1/confused, GitLab thumbsup/confused), a reply on Bitbucket."""
    if provider == "github":
        url = f"{api}/repos/{where}/issues/comments/{command.comment_id}/reactions"
        body: dict[str, object] = {"content": "+1" if accepted else "confused"}
        return HttpRequest(method="POST", url=url, headers=github.auth_headers(creds), json=body)
    if provider == "gitlab":
        url = f"{api}/projects/{where}/merge_requests/{command.number}/notes/{command.comment_id}/award_emoji"
        body = {"name": "thumbsup" if accepted else "confused"}
        return HttpRequest(method="POST", url=url, headers=gitlab.auth_headers(creds), json=body)
    url = f"{api}/repositories/{where}/pullrequests/{command.number}/comments"
    body = {"content": {"raw": text}}
    if command.comment_id.isdigit():
        body["parent"] = {"id": int(command.comment_id)}
    return HttpRequest(method="POST", url=url, headers=bitbucket.auth_headers(creds), json=body)


def head_request(api: str, where: str, creds: Credentials, number: int) -> HttpRequest:
    """GitHub's pull request, for the head commit an issue_comment delivery does not carry."""
    return HttpRequest(
        method="GET", url=f"{api}/repos/{where}/pulls/{number}", headers=github.auth_headers(creds)
    )


def head_of(response: HttpResponse) -> Head | None:
    """The head of a GitHub pull request answer (None when it is not one)."""
    if not response.ok:
        return None
    try:
        pull = msgspec.json.decode(response.content, type=_Pull)
    except msgspec.DecodeError:
        return None
    source, base = pull.head.repo, pull.base.repo
    fork = source is None or (base is not None and source.full_name.lower() != base.full_name.lower())
    return Head(
        commit=pull.head.sha.lower(), branch=pull.head.ref, target_branch=pull.base.ref,
        source_repository=source.clone_url if source else "", fork=fork, open=pull.state == "open",
    )  # fmt: skip
