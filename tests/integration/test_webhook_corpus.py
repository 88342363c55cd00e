"""The webhook fixture corpus (tests/fixtures/webhooks/corpus, sources in SOURCES.md) sent through
the real receiver on a real nats-server, one delivery per test.

Each row names a payload the provider documents, the event header it comes with, the repository
as its RepositoryConnection names it (spelt in another case than the payload, issue 13.2) and
what it must give: the runs (event, branch, commit, PR number, target branch, fork, and the
repository as the provider named it) or a 2xx that starts nothing. Covers GitHub (github.com and
Enterprise Server; push, annotated and lightweight tags, tag deletion, pull requests opened,
synchronized, reopened, closed, labeled, from a fork; ping, an organization's ping, create, issue
comments), GitLab (push, tag, deletion, a subgroup on a self-hosted server, merge requests
opened, updated with and without commits, closed, from a fork; comments) and Bitbucket Cloud
(push, two refs in one push, tag with a legacy actor, deletion, pull requests created, updated,
from a fork, fulfilled, rejected, commented). A comment starts no run itself: the three that hold
a command (`/retest` on a GitHub pull request, `/cancel` on a GitLab merge request, `/retest` on a
Bitbucket pull request) publish exactly one CommentCommand each, with what the payload says of the
pull request and the commenter; the other comments publish none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from adapters.jetstream.server import NatsServer
from events.command import CommentCommand
from tests.support.webhook_harness import Harness, harness
from tests.support.webhooks import FIXTURES, headers_for

SECRET = b"s3cret"
CORPUS = FIXTURES / "corpus"
GH, GHES = "https://github.com/codertocat/hello-world", "https://octocoders.github.io/CODERTOCAT/hello-world"
BB = "https://bitbucket.org/Team-A/web-app"
GH_SHA, GH_PR_SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
GL_SHA, GL_TAG = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"
BB_1, BB_2 = "10c4e1f2af0c2daf86d429c22f6a8c34d8a6ab91", "9fd2a7c1b35e28f44e0a51d6b2c8e7f09a1b3c4d"


@dataclass(frozen=True)
class Run:
    """What one run must record: event, branch, commit, PR number, target, fork, identity."""

    event: str
    branch: str
    commit: str
    identity: str
    number: int | None = None
    target: str | None = None
    fork: bool = False


def pr(branch: str, commit: str, identity: str, number: int, *, fork: bool = False) -> Run:
    return Run("pull_request", branch, commit, identity, number, "master", fork)


GH_PR = pr("changes", GH_PR_SHA, "Codertocat/Hello-World", 2)
GL_MR = pr("ms-viewport", GL_SHA, "gitlabhq/gitlab-test", 1)
BB_PR = pr("feature/login", BB_2[:12], "team-a/web-app", 42)
GH_FORK = pr("changes", GH_PR_SHA, "Codertocat/Hello-World", 2, fork=True)
GHES_PR = pr("changes", "14977a7b5485400124827221a04bfb474bcd72d1", "Codertocat/Hello-World", 2)
GL = "http://example.com/gitlabhq/gitlab-test"
GL_SSH = "ssh://git@example.com/Mike/Diaspora.git"
GL_TAGGED = "http://example.com/JSmith/example"
GL_SELF_HOSTED = "https://gitlab.corp.example/platform/backend/payments.git"
GL_SUBGROUP = Run("push", "feature/login", GL_SHA, "platform/backend/Payments")
GL_FORK = pr("ms-viewport", GL_SHA, "gitlabhq/gitlab-test", 1, fork=True)
BB_FORK = pr("feature/login", BB_2[:12], "team-a/web-app", 42, fork=True)
BB_TWO = (Run("push", "master", BB_1, "team-a/web-app"), Run("push", "release/2.0", BB_2, "team-a/web-app"))
NOTHING: tuple[Run, ...] = ()

#: (provider, file, event header, connection repository, runs it must give; none: a 2xx no-op)
CASES: list[tuple[str, str, str, str, tuple[Run, ...]]] = [
    ("github", "push_branch", "push", GH, (Run("push", "master", GH_SHA, "Codertocat/Hello-World"),)),
    ("github", "push_annotated_tag", "push", GH, (Run("tag", "v1.0.0", GH_SHA, "Codertocat/Hello-World"),)),
    ("github", "push_tag_deleted", "push", GH, NOTHING),
    ("github", "pull_request_opened", "pull_request", GH, (GH_PR,)),
    ("github", "pull_request_synchronize", "pull_request", GH, (GH_PR,)),
    ("github", "pull_request_reopened", "pull_request", GH, (GH_PR,)),
    ("github", "pull_request_opened_fork", "pull_request", GH, (GH_FORK,)),
    ("github", "pull_request_closed", "pull_request", GH, NOTHING),
    ("github", "pull_request_labeled", "pull_request", GH, NOTHING),
    ("github", "ping", "ping", "ssh://git@github.com/octocoders/hello-world.git", NOTHING),
    ("github", "ping_organization", "ping", GH, NOTHING),
    ("github", "create_tag", "create", GH, NOTHING),
    ("github", "issue_comment_created", "issue_comment", GH, NOTHING),
    ("github", "issue_comment_on_pull_request_retest", "issue_comment", GH, NOTHING),
    ("github", "ghes_push_tag", "push", GHES, (Run("tag", "simple-tag", GH_SHA, "Codertocat/Hello-World"),)),
    ("github", "ghes_pull_request_opened", "pull_request", GHES, (GHES_PR,)),
    ("gitlab", "push_branch", "Push Hook", GL_SSH, (Run("push", "master", GL_SHA, "mike/diaspora"),)),
    ("gitlab", "tag_push", "Tag Push Hook", GL_TAGGED, (Run("tag", "v1.0.0", GL_TAG, "jsmith/example"),)),
    ("gitlab", "push_branch_deleted", "Push Hook", "http://example.com/mike/diaspora", NOTHING),
    ("gitlab", "push_subgroup_self_hosted", "Push Hook", GL_SELF_HOSTED, (GL_SUBGROUP,)),
    ("gitlab", "merge_request_open", "Merge Request Hook", GL, (GL_MR,)),
    ("gitlab", "merge_request_update_new_commits", "Merge Request Hook", GL, (GL_MR,)),
    ("gitlab", "merge_request_open_fork", "Merge Request Hook", GL, (GL_FORK,)),
    ("gitlab", "merge_request_update_title", "Merge Request Hook", GL, NOTHING),
    ("gitlab", "merge_request_close", "Merge Request Hook", GL, NOTHING),
    ("gitlab", "note_on_merge_request", "Note Hook", GL, NOTHING),
    ("gitlab", "note_on_merge_request_cancel", "Note Hook", GL, NOTHING),
    ("bitbucket", "repo_push_branch", "repo:push", BB, (Run("push", "master", BB_1, "team-a/web-app"),)),
    ("bitbucket", "repo_push_two_branches", "repo:push", BB, BB_TWO),
    ("bitbucket", "repo_push_tag", "repo:push", BB, (Run("tag", "v2.1.0", BB_1, "team-a/web-app"),)),
    ("bitbucket", "repo_push_branch_deleted", "repo:push", BB, NOTHING),
    ("bitbucket", "pullrequest_created", "pullrequest:created", BB, (BB_PR,)),
    ("bitbucket", "pullrequest_updated", "pullrequest:updated", BB, (BB_PR,)),
    ("bitbucket", "pullrequest_created_fork", "pullrequest:created", BB, (BB_FORK,)),
    ("bitbucket", "pullrequest_fulfilled", "pullrequest:fulfilled", BB, NOTHING),
    ("bitbucket", "pullrequest_rejected", "pullrequest:rejected", BB, NOTHING),
    ("bitbucket", "pullrequest_comment_created", "pullrequest:comment_created", BB, NOTHING),
]  # fmt: skip


@pytest.fixture
async def hook(nats_server: NatsServer) -> AsyncIterator[Harness]:
    async with harness(nats_server) as h:
        yield h


def test_every_corpus_file_has_a_row() -> None:
    """No payload of the corpus goes untested, and every row's file exists."""
    files = {f"{p.parent.name}/{p.stem}" for p in CORPUS.glob("*/*.json")}
    assert files == {f"{provider}/{name}" for provider, name, *_ in CASES}


@pytest.mark.parametrize(
    ("provider", "name", "event", "repository", "expected"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
async def test_corpus_delivery(
    hook: Harness, provider: str, name: str, event: str, repository: str, expected: tuple[Run, ...]
) -> None:
    """The documented payload gives exactly its runs, each recording what it is, or a 2xx no-op."""
    await hook.connect_repo(provider, repository)
    body = (CORPUS / provider / f"{name}.json").read_bytes()
    status, reply = await hook.post(provider, headers_for(provider, event, body, SECRET, "d-1"), body)
    runs = await hook.runs("team-a")
    if not expected:
        assert 200 <= status < 300 and runs == [] and reply["runs"] == [], reply
        return
    assert status == 202 and sorted(reply["runs"]) == sorted(r.metadata.name for r in runs), reply
    found = []
    for run in runs:
        trigger = run.spec.trigger
        assert trigger is not None and trigger.connection == "app" and trigger.provider == provider
        branch, identity = run.spec.branch or "", trigger.repository or ""
        number, target = trigger.number, trigger.target_branch
        found.append(Run(trigger.event, branch, run.spec.commit, identity, number, target, trigger.fork))
    assert sorted(found, key=repr) == sorted(expected, key=repr)


#: (provider, file, event header, connection repository, the CommentCommand it must publish as
#: (command, number, commenter, commenter id, comment id, head commit))
COMMANDS: list[tuple[str, str, str, str, tuple[str, int, str, str, str, str]]] = [
    ("github", "issue_comment_on_pull_request_retest", "issue_comment", GH,
     ("retest", 2, "Codertocat", "21031067", "492700400", "")),
    ("gitlab", "note_on_merge_request_cancel", "Note Hook", GL, ("cancel", 1, "root", "1", "1245", GL_SHA)),
    ("bitbucket", "pullrequest_comment_created", "pullrequest:comment_created", BB,
     ("retest", 42, "emmap", "{d301aafa-d676-4ee0-88be-962be7417567}", "17", BB_2[:12])),
]  # fmt: skip
PLAIN_COMMENTS = [
    ("github", "issue_comment_created", "issue_comment", GH),
    ("gitlab", "note_on_merge_request", "Note Hook", GL),
]


async def commands_published(hook: Harness) -> list[CommentCommand]:
    return [r.event for r in await hook.bus.history("c8s.webhook.>") if isinstance(r.event, CommentCommand)]


@pytest.mark.parametrize(
    ("provider", "name", "event", "repository", "expected"), COMMANDS, ids=[c[1] for c in COMMANDS]
)
async def test_corpus_comment_command(
    hook: Harness, provider: str, name: str, event: str, repository: str, expected: tuple[object, ...]
) -> None:
    """A documented comment holding a command publishes one CommentCommand, for the connection."""
    await hook.connect_repo(provider, repository)
    body = (CORPUS / provider / f"{name}.json").read_bytes()
    status, reply = await hook.post(provider, headers_for(provider, event, body, SECRET, "d-1"), body)
    assert status == 202 and reply["runs"] == [], reply
    [command] = await commands_published(hook)
    got = (
        command.command,
        command.number,
        command.commenter,
        command.commenter_id,
        command.comment_id,
        command.commit,
    )
    assert got == expected
    assert (command.namespace, command.connection, command.provider) == ("team-a", "app", provider)


@pytest.mark.parametrize(
    ("provider", "name", "event", "repository"), PLAIN_COMMENTS, ids=[c[1] for c in PLAIN_COMMENTS]
)
async def test_corpus_plain_comment_publishes_no_command(
    hook: Harness, provider: str, name: str, event: str, repository: str
) -> None:
    """A comment without a command (or on an issue) is a 2xx that publishes no CommentCommand."""
    await hook.connect_repo(provider, repository)
    body = (CORPUS / provider / f"{name}.json").read_bytes()
    status, _ = await hook.post(provider, headers_for(provider, event, body, SECRET, "d-1"), body)
    assert 200 <= status < 300 and await commands_published(hook) == []
