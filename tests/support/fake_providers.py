"""Fake GitHub, GitLab, Bitbucket Cloud and Slack endpoints on one loopback aiohttp server (port 0).

Every request is checked against the provider's documented method, path, headers and body: a
body field the API does not define, a state outside its enum, a description over GitHub's 140
characters, a GitLab project id that is not URL-encoded or a missing auth header is recorded in
`violations` (tests assert it stays empty) and answered 422/400/401 as the provider would.
Answers follow the providers: 201 with the stored object; 401 for a wrong token; 404 for an
unknown repository; GitLab reuses a pending/running status of the same name and refuses a repeated
`pending` (400 "Cannot transition status via :enqueue from :pending"); Bitbucket overwrites a key
(200). `script(...)` forces the next answers (429 with Retry-After, 5xx, 401, ...) to test retries
(a Scripted answer with a `path` only answers a request whose path contains it). Hook lists are
paged as each provider pages them: GitHub and GitLab `per_page` (at most 100) and `page`, Bitbucket
`pagelen` and `page` with a `next` link while more remain.
The comment-command endpoints (permissions, reactions, replies, GitHub's pull request) are in
tests.support.fake_comment_apis (`fake.comments`).
API roots: `<url>/api/v3` (GitHub Enterprise form), `<url>/api/v4` (GitLab), `<url>/2.0`
(Bitbucket), `<url>/slack/<hook>` (Slack incoming webhook).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import unquote

import msgspec
from aiohttp import web
from msgspec import Meta, Struct

from tests.support.fake_comment_apis import CommentApis

TOKEN = "s3cret-token"
GITHUB_REPOS = {"org/app"}
GITLAB_PROJECTS = {"group/sub/app"}
BITBUCKET_REPOS = {"team/app"}
SLACK_HOOKS = {"T000/B000/XXXX"}


class GitHubStatus(Struct, forbid_unknown_fields=True):
    state: Literal["error", "failure", "pending", "success"]
    target_url: str | None = None
    description: Annotated[str, Meta(max_length=140)] | None = None
    context: str = "default"


class GitHubHookConfig(Struct, forbid_unknown_fields=True):
    url: str
    content_type: Literal["json", "form"] = "form"
    secret: str | None = None
    insecure_ssl: Literal["0", "1"] = "0"


class GitHubHook(Struct, forbid_unknown_fields=True):
    config: GitHubHookConfig
    name: Literal["web"] = "web"
    active: bool = True
    events: list[str] = msgspec.field(default_factory=lambda: ["push"])


class GitLabStatus(Struct, forbid_unknown_fields=True):
    state: Literal["pending", "running", "success", "failed", "canceled", "skipped"]
    ref: str | None = None
    name: str | None = None
    context: str | None = None
    target_url: str | None = None
    description: str | None = None
    coverage: float | None = None
    pipeline_id: int | None = None


class GitLabHook(Struct, forbid_unknown_fields=True):
    url: str
    token: str | None = None
    push_events: bool = True
    tag_push_events: bool = False
    merge_requests_events: bool = False
    note_events: bool = False
    enable_ssl_verification: bool = True


class BitbucketStatus(Struct, forbid_unknown_fields=True):
    key: Annotated[str, Meta(min_length=1)]
    state: Literal["INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"]
    url: Annotated[str, Meta(min_length=1)]
    name: str | None = None
    description: str | None = None
    refname: str | None = None


class BitbucketHook(Struct, forbid_unknown_fields=True):
    url: str
    description: str
    active: bool
    events: Annotated[list[str], Meta(min_length=1)]
    secret: str | None = None


class SlackMessage(Struct):
    text: Annotated[str, Meta(min_length=1)]
    blocks: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] | None = None


@dataclass
class Posted:
    """A commit status as the provider stored it (GitLab's name, Bitbucket's key as `context`)."""

    provider: str
    repo: str
    sha: str
    state: str
    context: str
    target_url: str | None
    description: str | None


@dataclass
class Scripted:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"message": "scripted"}'
    #: Only a request whose path contains this is answered so (any request when empty).
    path: str = ""


class FakeProviders:
    def __init__(self) -> None:
        self.statuses: list[Posted] = []
        self.hooks: dict[tuple[str, str], list[str]] = {}
        self.slack: list[SlackMessage] = []
        self.violations: list[str] = []
        self.seen: list[tuple[str, str, int]] = []
        self.changed = asyncio.Condition()
        self._script: deque[Scripted] = deque()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.comments = CommentApis(self)

    def script(self, *answers: Scripted) -> None:
        """Answer the next requests with these, in order, before any check."""
        self._script.extend(answers)

    def states(self, provider: str) -> list[str]:
        return [p.state for p in self.statuses if p.provider == provider]

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_route("*", "/api/v3/repos/{owner}/{repo}/statuses/{sha}", self._github_status)
        app.router.add_route("*", "/api/v3/repos/{owner}/{repo}/hooks", self._github_hooks)
        app.router.add_route("*", "/api/v4/projects/{rest:.+}", self._gitlab)
        app.router.add_route(
            "*", "/2.0/repositories/{ws}/{slug}/commit/{sha}/statuses/build", self._bb_status
        )
        app.router.add_route("*", "/2.0/repositories/{ws}/{slug}/hooks", self._bb_hooks)
        app.router.add_route("*", "/slack/{hook:.+}", self._slack)
        self.comments.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        answer = self._scripted(request.path)
        if answer is not None:
            response: web.StreamResponse = web.Response(
                status=answer.status,
                text=answer.body,
                headers=answer.headers,
                content_type="application/json",
            )
        else:
            response = await handler(request)
        self.seen.append((request.method, request.raw_path, response.status))
        async with self.changed:
            self.changed.notify_all()
        return response

    def _scripted(self, path: str) -> Scripted | None:
        answer = next((a for a in self._script if not a.path or a.path in path), None)
        if answer is not None:
            self._script.remove(answer)
        return answer

    def _page(self, request: web.Request, size_name: str) -> tuple[int, int] | web.Response:
        """(page, size) of a list request; a size over the provider's maximum of 100 is refused."""
        try:
            size = int(request.query.get(size_name, "30"))
            page = int(request.query.get("page", "1"))
        except ValueError:
            return self._violation(f"{request.path}: {request.query_string}", 400)
        if not 1 <= size <= 100 or page < 1:
            return self._violation(f"{request.path}: {size_name}={size} page={page}", 422)
        return page, size

    def _violation(self, text: str, status: int = 422) -> web.Response:
        self.violations.append(text)
        return web.json_response({"message": text}, status=status)

    async def _body(self, request: web.Request, kind: type[Any]) -> Any:
        if request.content_type != "application/json":
            raise _Refused(self._violation(f"{request.path}: Content-Type {request.content_type}", 415))
        try:
            return msgspec.json.decode(await request.read(), type=kind)
        except msgspec.ValidationError as e:
            raise _Refused(self._violation(f"{request.path}: {e}")) from None

    # GitHub -------------------------------------------------------------------------------------

    def _github_auth(self, request: web.Request) -> web.Response | None:
        h = request.headers
        if h.get("Accept") != "application/vnd.github+json" or h.get("X-GitHub-Api-Version") != "2022-11-28":
            return self._violation(f"GitHub headers: {dict(h)}", 400)
        if not h.get("User-Agent"):
            return self._violation("GitHub requires a User-Agent", 403)
        if h.get("Authorization") not in (f"Bearer {TOKEN}", f"token {TOKEN}"):
            return web.json_response({"message": "Bad credentials"}, status=401)
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        if repo not in GITHUB_REPOS:
            return web.json_response({"message": "Not Found"}, status=404)
        return None

    async def _github_status(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return self._violation(f"GitHub statuses: {request.method}", 404)
        refused = self._github_auth(request)
        if refused is not None:
            return refused
        try:
            body = await self._body(request, GitHubStatus)
        except _Refused as r:
            return r.response
        repo, sha = f"{request.match_info['owner']}/{request.match_info['repo']}", request.match_info["sha"]
        self.statuses.append(
            Posted("github", repo, sha, body.state, body.context, body.target_url, body.description)
        )
        return web.json_response(
            {"id": len(self.statuses), "state": body.state, "context": body.context}, status=201
        )

    async def _github_hooks(self, request: web.Request) -> web.Response:
        refused = self._github_auth(request)
        if refused is not None:
            return refused
        key = ("github", f"{request.match_info['owner']}/{request.match_info['repo']}")
        if request.method == "GET":
            paged = self._page(request, "per_page")
            if isinstance(paged, web.Response):
                return paged
            (page, size), hooks = paged, self.hooks.get(key, [])
            shown = list(enumerate(hooks))[(page - 1) * size : page * size]
            return web.json_response([{"id": i, "name": "web", "config": {"url": u}} for i, u in shown])
        try:
            hook = await self._body(request, GitHubHook)
        except _Refused as r:
            return r.response
        self.hooks.setdefault(key, []).append(hook.config.url)
        return web.json_response({"id": len(self.hooks[key]), "config": {"url": hook.config.url}}, status=201)

    # GitLab -------------------------------------------------------------------------------------

    async def _gitlab(self, request: web.Request) -> web.Response:
        raw = request.raw_path.split("?")[0].removeprefix("/api/v4/projects/")
        encoded, _, rest = raw.partition("/")
        if "%2F" not in encoded:
            return self._violation(f"GitLab project id not URL-encoded: {raw}", 404)
        if request.headers.get("PRIVATE-TOKEN") != TOKEN:
            return web.json_response({"message": "401 Unauthorized"}, status=401)
        project = unquote(encoded)
        if project not in GITLAB_PROJECTS:
            return web.json_response({"message": "404 Project Not Found"}, status=404)
        if rest.startswith("statuses/") and request.method == "POST":
            return await self._gitlab_status(request, project, rest.removeprefix("statuses/"))
        if rest == "hooks":
            return await self._gitlab_hooks(request, project)
        if rest.startswith(("members/", "merge_requests/")):
            return await self.comments.gitlab(request, project, rest)
        return self._violation(f"GitLab: {request.method} {raw}", 404)

    async def _gitlab_status(self, request: web.Request, project: str, sha: str) -> web.Response:
        try:
            body = await self._body(request, GitLabStatus)
        except _Refused as r:
            return r.response
        name = body.name or body.context or "default"
        open_ = next(
            (
                p
                for p in reversed(self.statuses)
                if p.provider == "gitlab"
                and p.context == name
                and p.sha == sha
                and p.state in ("pending", "running")
            ),
            None,
        )
        if open_ is not None and open_.state == body.state:
            event = "enqueue" if body.state == "pending" else "run"
            message = (
                f"Cannot transition status via :{event} from :{body.state} "
                f'(Reason(s): Status cannot transition via "{event}")'
            )
            return web.json_response({"message": message}, status=400)
        self.statuses.append(
            Posted("gitlab", project, sha, body.state, name, body.target_url, body.description)
        )
        return web.json_response({"id": len(self.statuses), "status": body.state, "name": name}, status=201)

    async def _gitlab_hooks(self, request: web.Request, project: str) -> web.Response:
        key = ("gitlab", project)
        if request.method == "GET":
            paged = self._page(request, "per_page")
            if isinstance(paged, web.Response):
                return paged
            (page, size), hooks = paged, self.hooks.get(key, [])
            shown = list(enumerate(hooks))[(page - 1) * size : page * size]
            return web.json_response([{"id": i, "url": u} for i, u in shown])
        try:
            hook = await self._body(request, GitLabHook)
        except _Refused as r:
            return r.response
        self.hooks.setdefault(key, []).append(hook.url)
        return web.json_response({"id": len(self.hooks[key]), "url": hook.url}, status=201)

    # Bitbucket ----------------------------------------------------------------------------------

    def _bb_auth(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"type": "error", "error": {"message": "Unauthorized"}}, status=401)
        if f"{request.match_info['ws']}/{request.match_info['slug']}" not in BITBUCKET_REPOS:
            return web.json_response(
                {"type": "error", "error": {"message": "Repository not found"}}, status=404
            )
        return None

    async def _bb_status(self, request: web.Request) -> web.Response:
        refused = (
            self._bb_auth(request) if request.method == "POST" else self._violation("bitbucket method", 405)
        )
        if refused is not None:
            return refused
        try:
            body = await self._body(request, BitbucketStatus)
        except _Refused as r:
            return r.response
        repo, sha = f"{request.match_info['ws']}/{request.match_info['slug']}", request.match_info["sha"]
        exists = any(
            p.provider == "bitbucket" and p.sha == sha and p.context == body.key for p in self.statuses
        )
        self.statuses.append(Posted("bitbucket", repo, sha, body.state, body.key, body.url, body.description))
        return web.json_response({"key": body.key, "state": body.state}, status=200 if exists else 201)

    async def _bb_hooks(self, request: web.Request) -> web.Response:
        refused = self._bb_auth(request)
        if refused is not None:
            return refused
        key = ("bitbucket", f"{request.match_info['ws']}/{request.match_info['slug']}")
        if request.method == "GET":
            paged = self._page(request, "pagelen")
            if isinstance(paged, web.Response):
                return paged
            (page, size), hooks = paged, self.hooks.get(key, [])
            values = [{"uuid": f"{{{i}}}", "url": u} for i, u in enumerate(hooks)]
            body: dict[str, Any] = {"pagelen": size, "size": len(values), "page": page}
            body["values"] = values[(page - 1) * size : page * size]
            if page * size < len(values):
                body["next"] = f"{self.url}{request.path}?pagelen={size}&page={page + 1}"
            return web.json_response(body)
        try:
            hook = await self._body(request, BitbucketHook)
        except _Refused as r:
            return r.response
        self.hooks.setdefault(key, []).append(hook.url)
        return web.json_response({"uuid": "{new}", "url": hook.url}, status=201)

    # Slack --------------------------------------------------------------------------------------

    async def _slack(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return self._violation("slack method", 405)
        if request.match_info["hook"] not in SLACK_HOOKS:
            return web.Response(status=404, text="no_service")
        try:
            message = msgspec.json.decode(await request.read(), type=SlackMessage)
        except msgspec.ValidationError:
            self.violations.append("slack: invalid payload")
            return web.Response(status=400, text="invalid_payload")
        self.slack.append(message)
        return web.Response(status=200, text="ok")


class _Refused(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response
