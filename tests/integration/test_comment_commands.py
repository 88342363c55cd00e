"""Pull request comment commands end to end on a real nats-server: the real webhook receiver (HTTP,
signatures), the notifier's CommandDecider against the fake provider APIs (which check every
request against the documented shape), and the webhook's consumer of the decisions.

Covers: `/retest` by a GitHub writer creates exactly one run, of the head commit GitHub's API gives
(as a pull request delivery would: event, number, target branch, head repository), and a +1
reaction, even when the comment is delivered again (same delivery id, another delivery id, and
the decision handled twice); `/retest` by a reader creates no run and gets a confused reaction;
on Bitbucket a reader gets a reply to the comment instead, and a writer's `/retest` of a fork's
pull request runs it as a fork's (without secrets) once, however many `/retest` comments follow
while it is unfinished; `/cancel` by a GitLab Developer asks
every unfinished run of that merge request to cancel and leaves other runs alone, with a thumbsup
award on the note. "Done" is both durable consumers having acked every command, never a sleep.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import nats
import pytest
from msgspec.structs import replace

from adapters.http_client import AiohttpClient
from adapters.jetstream.server import NatsServer
from adapters.runtime.tasks import stop_task
from api.meta import ObjectMeta
from api.pipelinerun import PipelineRun, PipelineRunSpec, Trigger
from api.repositoryconnection import RepositoryConnection
from api.secret import Secret
from events.command import CommentCommandDecided
from events.subjects import WEBHOOK_STREAM
from ports.http import RetryPolicy
from services.notifier import commands as notifier_commands
from services.notifier.commands import CommandDecider
from services.webhook import commanding
from services.webhook.commanding import Commands
from tests.integration.conftest import eventually
from tests.support.fake_providers import TOKEN, FakeProviders
from tests.support.webhook_harness import Harness, harness
from tests.support.webhooks import FIXTURES, headers_for

SECRET = b"s3cret"
CORPUS = FIXTURES / "corpus"
HEAD = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


class World:
    """The receiver, the notifier's decider and the webhook's decision consumer, running."""

    def __init__(self, hook: Harness, fake: FakeProviders) -> None:
        self.hook, self.fake, self.stop = hook, fake, asyncio.Event()
        self.http = AiohttpClient(RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.1, timeout=5.0))
        apis = {
            "github": f"{fake.url}/api/v3",
            "gitlab": f"{fake.url}/api/v4",
            "bitbucket": f"{fake.url}/2.0",
        }
        self.decider = CommandDecider(hook.bus, hook.store, self.http, apis, lambda: NOW)
        self.commands = Commands(hook.store, lambda: NOW)
        self.tasks = [
            asyncio.create_task(notifier_commands.serve_commands(hook.bus, self.decider, self.stop)),
            asyncio.create_task(commanding.serve_commands(hook.bus, self.commands, self.stop)),
        ]

    async def close(self) -> None:
        self.stop.set()
        for task in self.tasks:
            await stop_task(task)
        await self.http.close()

    async def connect(self, provider: str, repository: str) -> None:
        """The harness's connection, with an API token (authSecretRef) for the notifier."""
        await self.hook.connect_repo(provider, repository)
        meta = ObjectMeta(name="app-auth", namespace="team-a")
        await self.hook.store.apply(Secret(metadata=meta, string_data={"token": TOKEN}))
        conn = await self.hook.store.get(RepositoryConnection, "team-a", "app")
        await self.hook.store.apply(replace(conn, spec=replace(conn.spec, auth_secret_ref="app-auth")))

    async def comment(self, provider: str, event: str, body: bytes, delivery: str = "d-1") -> int:
        status, _ = await self.hook.post(provider, headers_for(provider, event, body, SECRET, delivery), body)
        return status

    async def settled(self) -> bool:
        """Both consumers have acked every command and decision stored so far."""
        nc = await nats.connect(self.hook.server.url)
        try:
            js = nc.jetstream()
            for durable in (notifier_commands.DURABLE, commanding.DURABLE):
                info = await js.consumer_info(WEBHOOK_STREAM, durable)
                if info.num_pending or info.num_ack_pending:
                    return False
            return True
        finally:
            await nc.close()

    async def decisions(self) -> list[CommentCommandDecided]:
        history = await self.hook.bus.history("c8s.webhook.>")
        return [r.event for r in history if isinstance(r.event, CommentCommandDecided)]


@pytest.fixture
async def world(nats_server: NatsServer) -> AsyncIterator[World]:
    fake = FakeProviders()
    await fake.start()
    async with harness(nats_server) as hook:
        w = World(hook, fake)
        yield w
        await w.close()
    await fake.stop()


def github_retest() -> bytes:
    text = (CORPUS / "github" / "issue_comment_on_pull_request_retest.json").read_text()
    return text.replace("Codertocat/Hello-World", "org/app").encode()


def github_pull(state: str = "open") -> dict[str, Any]:
    repo = {"full_name": "org/app", "clone_url": "https://github.com/org/app.git"}
    return {
        "number": 2, "state": state,
        "head": {"ref": "changes", "sha": HEAD, "repo": repo},
        "base": {"ref": "master", "sha": "f" * 40, "repo": repo},
    }  # fmt: skip


async def test_retest_by_a_writer_runs_the_head_once(world: World) -> None:
    """/retest by a writer: one run of the PR's head as a pull request delivery records it, a +1."""
    await world.connect("github", "https://github.com/org/app")
    world.fake.comments.writers[("github", "Codertocat")] = "write"
    world.fake.comments.pulls[("org/app", 2)] = github_pull()
    body = github_retest()
    assert await world.comment("github", "issue_comment", body) == 202
    assert await world.comment("github", "issue_comment", body) == 200  # the same delivery again
    assert await world.comment("github", "issue_comment", body, delivery="d-2") == 202  # another hook
    runs = await eventually(lambda: world.hook.runs("team-a"))
    await eventually(world.settled)
    [decided] = await world.decisions()
    await world.commands.handle(await _received(world, decided))  # the decision redelivered
    [run] = await world.hook.runs("team-a")
    assert run.metadata.name == runs[0].metadata.name and run.spec.commit == HEAD
    assert run.spec.branch == "changes" and run.spec.triggered_by == "Codertocat"
    assert run.spec.trigger == Trigger(
        event="pull_request", connection="app", provider="github", repository="org/app", number=2,
        target_branch="master", source_repository="https://github.com/org/app.git", fork=False,
    )  # fmt: skip
    assert world.fake.comments.reactions == [("github", "492700400", "+1")]
    assert world.fake.violations == []


async def test_retest_by_a_reader_runs_nothing_and_confuses(world: World) -> None:
    """/retest by someone with read access: no run, the decision says why, a confused reaction."""
    await world.connect("github", "https://github.com/org/app")
    world.fake.comments.writers[("github", "Codertocat")] = "read"
    world.fake.comments.pulls[("org/app", 2)] = github_pull()
    assert await world.comment("github", "issue_comment", github_retest()) == 202
    await eventually(lambda: _async(world.fake.comments.reactions == [("github", "492700400", "confused")]))
    await eventually(world.settled)
    [decided] = await world.decisions()
    assert decided.verdict == "refused" and "no write access" in decided.reason
    assert await world.hook.runs("team-a") == [] and world.fake.violations == []


async def test_bitbucket_reader_gets_a_reply(world: World) -> None:
    """Bitbucket has no reactions: a refused /retest is answered by a reply to the comment."""
    await world.connect("bitbucket", "https://bitbucket.org/team/app")
    body = (CORPUS / "bitbucket" / "pullrequest_comment_created.json").read_text()
    body = body.replace("team-a/web-app", "team/app")
    assert await world.comment("bitbucket", "pullrequest:comment_created", body.encode()) == 202
    [(_, number, text, parent)] = await eventually(lambda: _async(world.fake.comments.replies))
    assert (number, parent) == (42, 17) and "refused" in text and "no write access" in text
    await eventually(world.settled)
    assert await world.hook.runs("team-a") == [] and world.fake.violations == []


async def test_bitbucket_fork_retest_runs_without_secrets_and_floods_start_one_run(world: World) -> None:
    """A writer's /retest of a fork's pull request runs its head as a fork's (no secrets); a second
    /retest comment while that run is unfinished starts nothing more."""
    await world.connect("bitbucket", "https://bitbucket.org/team/app")
    world.fake.comments.writers[("bitbucket", "{d301aafa-d676-4ee0-88be-962be7417567}")] = "write"
    data = json.loads((CORPUS / "bitbucket" / "pullrequest_comment_created.json").read_text().replace(
        "team-a/web-app", "team/app"))  # fmt: skip
    data["pullrequest"]["source"]["repository"]["full_name"] = "emma/app-fork"
    assert await world.comment("bitbucket", "pullrequest:comment_created", json.dumps(data).encode()) == 202
    [run] = await eventually(lambda: world.hook.runs("team-a"))
    data["comment"]["id"] = 18
    assert (
        await world.comment("bitbucket", "pullrequest:comment_created", json.dumps(data).encode(), "d-2")
        == 202
    )
    await eventually(lambda: _async(len(world.fake.comments.replies) == 2))
    await eventually(world.settled)
    assert [r.metadata.name for r in await world.hook.runs("team-a")] == [run.metadata.name]
    trigger = run.spec.trigger
    assert trigger is not None and trigger.fork and trigger.number == 42 and run.spec.commit == "9fd2a7c1b35e"
    assert [text for *_, text, _ in world.fake.comments.replies] == ["c8s: /retest accepted."] * 2
    assert world.fake.violations == []


async def test_cancel_by_a_developer_cancels_the_merge_requests_runs(world: World) -> None:
    """/cancel by a GitLab Developer: the MR's unfinished runs are asked to cancel, no others."""
    await world.connect("gitlab", "https://gitlab.example.com/group/sub/app")
    world.fake.comments.writers[("gitlab", "1")] = 30
    for name, number in (("mr1-a", 1), ("mr1-b", 1), ("mr2", 2)):
        await world.hook.store.create(_pr_run(name, number))
    text = (CORPUS / "gitlab" / "note_on_merge_request_cancel.json").read_text()
    text = text.replace("gitlabhq/gitlab-test", "group/sub/app").replace("example.com", "gitlab.example.com")
    assert await world.comment("gitlab", "Note Hook", text.encode()) == 202
    await eventually(lambda: _cancelled(world, {"mr1-a", "mr1-b"}))
    await eventually(world.settled)
    assert await _cancelled(world, {"mr1-a", "mr1-b"})
    assert world.fake.comments.reactions == [("gitlab", "1245", "thumbsup")]
    assert world.fake.violations == []


def _pr_run(name: str, number: int) -> PipelineRun:
    trigger = Trigger(event="pull_request", connection="app", provider="gitlab", number=number)
    spec = PipelineRunSpec(
        pipeline_config_ref="app-ci", commit="a" * 40, branch="ms-viewport", trigger=trigger
    )
    return PipelineRun(metadata=ObjectMeta(name=name, namespace="team-a"), spec=spec)


async def _cancelled(world: World, names: set[str]) -> bool:
    """True when exactly `names` of the namespace's runs are asked to cancel."""
    runs = await world.hook.runs("team-a")
    return {r.metadata.name for r in runs if r.spec.cancel_requested} == names


async def _received(world: World, decided: CommentCommandDecided) -> Any:
    history = await world.hook.bus.history("c8s.webhook.>")
    return next(r for r in history if r.event == decided)


async def _async(value: Any) -> Any:
    return value
