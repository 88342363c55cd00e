"""The comment-command endpoints of the fake provider APIs (tests.support.fake_providers), checked
against each provider's documented shape like the rest of the fake:

- GitHub: GET /repos/{o}/{r}/collaborators/{username}/permission -> {permission, role_name} (404
  for a user who is no collaborator); POST /repos/{o}/{r}/issues/comments/{id}/reactions {content}
  with content one of GitHub's eight reactions -> 201, 200 when the same reaction exists; GET
  /repos/{o}/{r}/pulls/{number} -> the pull request (404 when unknown).
- GitLab: GET /projects/:id/members/all/:user_id (numeric id) -> {id, access_level} (404 for a
  non-member); POST /projects/:id/merge_requests/:iid/notes/:note_id/award_emoji {name} -> 201,
  404 "Award Emoji Name has already been taken" for a repeat.
- Bitbucket: GET /workspaces/{ws}/permissions/repositories/{slug}?q=user.uuid="{uuid}" -> the
  paged repository_permission rows matching the filter (400 for a filter it cannot read); POST
  /repositories/{ws}/{slug}/pullrequests/{id}/comments {content: {raw}, parent: {id}} -> 201.

Tests set `writers` (GitHub logins and Bitbucket uuids -> permission, GitLab user ids -> access
level) and `pulls` ((repo, number) -> pull request JSON), and read `reactions` and `replies`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from msgspec import Struct

if TYPE_CHECKING:
    from tests.support.fake_providers import FakeProviders

GITHUB_REACTIONS = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]
_UUID_FILTER = re.compile(r'^user\.uuid="(\{[0-9a-f-]+\})"$')


class GitHubReaction(Struct, forbid_unknown_fields=True):
    content: GITHUB_REACTIONS


class GitLabAward(Struct, forbid_unknown_fields=True):
    name: str


class BbContent(Struct, forbid_unknown_fields=True):
    raw: str


class BbParent(Struct, forbid_unknown_fields=True):
    id: int


class BbComment(Struct, forbid_unknown_fields=True):
    content: BbContent
    parent: BbParent | None = None


class CommentApis:
    def __init__(self, fake: FakeProviders) -> None:
        self.fake = fake
        self.writers: dict[tuple[str, str], Any] = {}
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self.reactions: list[tuple[str, str, str]] = []
        self.replies: list[tuple[str, int, str, int | None]] = []

    def routes(self, app: web.Application) -> None:
        repo = "/api/v3/repos/{owner}/{repo}"
        app.router.add_get(f"{repo}/collaborators/{{user}}/permission", self._github_permission)
        app.router.add_post(f"{repo}/issues/comments/{{id}}/reactions", self._github_reaction)
        app.router.add_get(f"{repo}/pulls/{{number}}", self._github_pull)
        app.router.add_get("/2.0/workspaces/{ws}/permissions/repositories/{slug}", self._bb_permissions)
        app.router.add_post("/2.0/repositories/{ws}/{slug}/pullrequests/{id}/comments", self._bb_reply)

    # GitHub -------------------------------------------------------------------------------------

    async def _github_permission(self, request: web.Request) -> web.Response:
        refused = self.fake._github_auth(request)
        if refused is not None:
            return refused
        permission = self.writers.get(("github", request.match_info["user"]))
        if permission is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response({"permission": permission, "role_name": permission, "user": {}})

    async def _github_reaction(self, request: web.Request) -> web.Response:
        refused = self.fake._github_auth(request)
        if refused is not None:
            return refused
        body = await self._decoded(request, GitHubReaction)
        if isinstance(body, web.Response):
            return body
        key = ("github", request.match_info["id"], body.content)
        exists = key in self.reactions
        if not exists:
            self.reactions.append(key)
        return web.json_response({"id": 1, "content": body.content}, status=200 if exists else 201)

    async def _github_pull(self, request: web.Request) -> web.Response:
        refused = self.fake._github_auth(request)
        if refused is not None:
            return refused
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        pull = self.pulls.get((repo, int(request.match_info["number"])))
        if pull is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(pull)

    # GitLab (called by the fake's /projects dispatcher) ----------------------------------------

    async def gitlab(self, request: web.Request, project: str, rest: str) -> web.Response:
        member = re.fullmatch(r"members/all/(\d+)", rest)
        if member and request.method == "GET":
            level = self.writers.get(("gitlab", member.group(1)))
            if level is None:
                return web.json_response({"message": "404 Not found"}, status=404)
            return web.json_response({"id": int(member.group(1)), "access_level": level})
        award = re.fullmatch(r"merge_requests/(\d+)/notes/(\d+)/award_emoji", rest)
        if award and request.method == "POST":
            body = await self._decoded(request, GitLabAward)
            if isinstance(body, web.Response):
                return body
            key = ("gitlab", award.group(2), body.name)
            if key in self.reactions:
                return web.json_response(
                    {"message": "404 Award Emoji Name has already been taken"}, status=404
                )
            self.reactions.append(key)
            return web.json_response({"id": len(self.reactions), "name": body.name}, status=201)
        return self.fake._violation(f"GitLab: {request.method} {project} {rest}", 404)

    # Bitbucket ----------------------------------------------------------------------------------

    async def _bb_permissions(self, request: web.Request) -> web.Response:
        refused = self.fake._bb_auth(request)
        if refused is not None:
            return refused
        wanted = _UUID_FILTER.match(request.query.get("q", ""))
        if wanted is None:
            return self.fake._violation(f"Bitbucket permissions filter: {request.query.get('q')!r}", 400)
        uuid = wanted.group(1)
        permission = self.writers.get(("bitbucket", uuid))
        rows = [] if permission is None else [{"type": "repository_permission", "permission": permission,
                                               "user": {"type": "user", "uuid": uuid}}]  # fmt: skip
        return web.json_response({"pagelen": 10, "values": rows, "page": 1, "size": len(rows)})

    async def _bb_reply(self, request: web.Request) -> web.Response:
        refused = self.fake._bb_auth(request)
        if refused is not None:
            return refused
        body = await self._decoded(request, BbComment)
        if isinstance(body, web.Response):
            return body
        parent = body.parent.id if body.parent else None
        self.replies.append(("bitbucket", int(request.match_info["id"]), body.content.raw, parent))
        return web.json_response({"id": 1000 + len(self.replies)}, status=201)

    async def _decoded(self, request: web.Request, kind: type[Any]) -> Any:
        from tests.support.fake_providers import _Refused

        try:
            return await self.fake._body(request, kind)
        except _Refused as r:
            return r.response
