"""Pull requests in local mode end to end (issue 13, items 7 and 8): `c8s dev up` as real processes,
a repository served by `git daemon` whose pull request heads are only at refs/pull/<n>/head (as on
GitHub), signed pull_request webhooks, and the CLI reading the results.

Covers: a fork's pull request checks out its head through the base repository's PR ref and runs
without the config's secrets (its log shows the secret unset); a same-repository pull request gets
them (masked in the log); both runs record what they are (event, number, target branch, fork) and
`c8s get pr` shows the event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.local import Instance, connection, pipeline, pull_request, running_instance, secret, step
from tests.support.git_daemon import GitDaemon, GitRepo

TOKEN = "pr-token-" + uuid.uuid4().hex[:12]
KEY = b"webhook-key-" + uuid.uuid4().hex[:8].encode()
GITHUB_REPO = "https://github.com/octo-org/hello-world"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """The base repository: `main`, a fork's head only at refs/pull/7/head, and a branch's head at
    refs/heads/feature and refs/pull/8/head."""
    base = tmp_path_factory.mktemp("repos")
    r = GitRepo.create(base / "app.git")
    r.commit({"src/app.txt": "version 1\n"}, "first")
    fork = r.commit_at(["refs/pull/7/head"], {"src/app.txt": "from a fork\n"}, "fork change")
    refs = ["refs/heads/feature", "refs/pull/8/head"]
    same = r.commit_at(refs, {"src/app.txt": "from a branch\n"}, "change")
    with GitDaemon(base) as daemon:
        yield daemon.url("app.git"), fork, same


@pytest.fixture(scope="module")
def c8s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with running_instance(tmp_path_factory.mktemp("dev")) as instance:
        yield instance


def test_fork_runs_without_secrets_and_same_repository_with_them(
    c8s: Instance, repo: tuple[str, str, str], tmp_path: Path
) -> None:
    """A fork's PR succeeds at its head with the secret unset; a same-repository PR sees it masked."""
    url, fork_sha, same_sha = repo
    show = step(
        "show",
        'echo "content=$(cat src/app.txt)"',
        'echo "token=${TOKEN:-unset}"',
        secrets=[{"secretRef": "app-secrets", "key": "token", "envVar": "TOKEN"}],
    )
    c8s.apply(
        tmp_path,
        secret("app-secrets", token=TOKEN),
        secret("gh-hook", **{"webhook-secret": KEY.decode()}),
        pipeline("app-ci", url, [show]),
        connection("gh", "github", GITHUB_REPO, "app-ci", "gh-hook"),
    )
    status, answer = c8s.post("github", *pull_request(fork_sha, 7, "fork-feature", KEY, fork=True))
    assert status == 202, answer
    [forked] = answer["runs"]
    status, answer = c8s.post("github", *pull_request(same_sha, 8, "feature", KEY, fork=False))
    assert status == 202, answer
    [same] = answer["runs"]

    fork_run = c8s.wait(forked)
    assert fork_run["status"]["phase"] == "Succeeded", fork_run["status"]
    assert fork_run["spec"]["trigger"] == {
        "event": "pull_request", "connection": "gh", "provider": "github",
        "repository": "octo-org/hello-world", "number": 7, "targetBranch": "main", "sourceRepository": "https://github.com/forker/hello-world.git",
        "fork": True,
    }  # fmt: skip
    log = c8s.logs(forked, "show")
    assert "content=from a fork" in log and "token=unset" in log and TOKEN not in log

    same_run = c8s.wait(same)
    assert same_run["status"]["phase"] == "Succeeded", same_run["status"]
    trigger = same_run["spec"]["trigger"]
    assert (trigger["number"], trigger.get("fork", False)) == (8, False)
    log = c8s.logs(same, "show")
    assert "content=from a branch" in log and "token=***" in log and TOKEN not in log

    table = c8s.c8s("get", "pr").stdout.splitlines()
    assert table[0].split()[4] == "EVENT"
    assert {line.split()[4] for line in table[1:] if line.split()[0] in (forked, same)} == {"pull_request"}
