"""Local mode end to end: `c8s dev up` as real processes, a real repository served by `git daemon`,
provider-shaped signed webhooks, and the CLI reading the results.

Covers: a GitHub push running a DAG with a matrix minus an exclude (one run per combination),
MATRIX_* env, a branch-conditional step skipped, a secret masked in stored logs (plain, base64
and URL-encoded), an artifact uploaded and listed; a GitLab push of a failing variant (exit code,
dependents skipped, an onSuccess:false cleanup step still runs); a Bitbucket push and the
connection's lastEvent; a duplicate delivery and a bad signature creating nothing; the event
history; cancel of a manual run (its process killed); a step timeout; the pipeline timeout.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.local import Instance, connection, pipeline, push, running_instance, secret, step
from tests.support.git_daemon import served_repo

TOKEN = "s3cr3t/" + uuid.uuid4().hex[:12] + "+=&x"  # URL-encoding changes it
KEY = b"webhook-key-" + uuid.uuid4().hex[:8].encode()
GITHUB_REPO = "https://github.com/octo-org/hello-world"
GITLAB_REPO = "https://gitlab.example.com/group/sub/app.git"
BITBUCKET_REPO = "https://bitbucket.org/team-a/app"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with served_repo(tmp_path_factory.mktemp("repos"), {"src/app.txt": "version 1\n"}) as served:
        yield served


@pytest.fixture(scope="module")
def c8s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with running_instance(tmp_path_factory.mktemp("dev")) as instance:
        yield instance


def test_github_push_runs_matrix_dag_with_masking_and_artifacts(
    c8s: Instance, repo: tuple[str, str], tmp_path: Path
) -> None:
    """A signed GitHub push starts one run per matrix combination; each runs its DAG to Succeeded."""
    url, commit = repo
    steps = [
        step("lint", "test -f src/app.txt", "echo linted"),
        step(
            "test",
            'echo "python=$MATRIX_PYTHON os=$MATRIX_OS commit=$COMMIT_SHA branch=$BRANCH"',
            'echo "token=$TOKEN"',
            'printf %s "$TOKEN" | base64',
            "python3 -c \"import os, urllib.parse as u; print('url='+u.quote(os.environ['TOKEN'],safe=''))\"",
            dependsOn=["lint"],
            secrets=[{"secretRef": "app-secrets", "key": "token", "envVar": "TOKEN"}],
        ),
        step(
            "build",
            "mkdir -p dist",
            "cp src/app.txt dist/app-$MATRIX_PYTHON.txt",
            dependsOn=["lint"],
            artifacts=["dist/*.txt"],
        ),
        step("deploy", "echo deploying", dependsOn=["test", "build"], conditional={"branch": "release/*"}),
    ]
    matrix = {
        "dimensions": {"python": ["3.11", "3.12"], "os": ["linux", "mac"]},
        "exclude": [{"os": "mac", "python": "3.11"}],
    }
    c8s.apply(
        tmp_path,
        secret("app-secrets", token=TOKEN),
        secret("gh-hook", **{"webhook-secret": KEY.decode()}),
        pipeline("app-ci", url, steps, matrix=matrix),
        connection("gh", "github", GITHUB_REPO, "app-ci", "gh-hook"),
    )
    status, answer = c8s.post("github", *push("github", commit, "main", KEY))
    assert status == 202, answer
    runs = answer["runs"]
    assert len(runs) == 3
    for name in runs:
        run = c8s.wait(name)
        assert run["status"]["phase"] == "Succeeded", run["status"]
        phases = {s["name"]: (s["phase"], s.get("reason")) for s in run["status"]["steps"]}
        assert phases["deploy"] == ("Skipped", "BranchNotMatched")
        assert {phases[s][0] for s in ("lint", "test", "build")} == {"Succeeded"}
        index = run["spec"]["matrixIndex"]
        log = c8s.logs(name, "test")
        assert f"python={index['python']} os={index['os']} commit={commit} branch=main" in log
        encoded = (base64.b64encode(TOKEN.encode()).decode(), urllib.parse.quote(TOKEN, safe=""))
        assert "url=***" in log
        for leaked in (TOKEN, *encoded):
            assert leaked not in log
        assert "token=***" in log
        build = next(s for s in run["status"]["steps"] if s["name"] == "build")
        [artifact] = build["artifactURLs"]
        assert artifact.endswith(f"dist/app-{index['python']}.txt")
        assert Path(artifact.removeprefix("file://")).read_text() == "version 1\n"
    combos = sorted(
        (c8s.run(n)["spec"]["matrixIndex"]["python"], c8s.run(n)["spec"]["matrixIndex"]["os"]) for n in runs
    )
    assert combos == [("3.11", "linux"), ("3.12", "linux"), ("3.12", "mac")]


def test_gitlab_push_of_failing_variant(c8s: Instance, repo: tuple[str, str], tmp_path: Path) -> None:
    """A failing step fails the run with its exit code; dependents skip; a cleanup step still runs."""
    url, commit = repo
    steps = [
        step("test", "echo about to fail", "exit 3", "echo never"),
        step("build", "echo built", dependsOn=["test"]),
        step("cleanup", "echo cleaning up", dependsOn=["test"], conditional={"onSuccess": False}),
    ]
    c8s.apply(
        tmp_path,
        secret("gl-hook", **{"webhook-secret": KEY.decode()}),
        pipeline("fail-ci", url, steps),
        connection("gl", "gitlab", GITLAB_REPO, "fail-ci", "gl-hook"),
    )
    status, answer = c8s.post("gitlab", *push("gitlab", commit, "main", KEY))
    assert status == 202, answer
    [name] = answer["runs"]
    run = c8s.wait(name)
    assert run["status"]["phase"] == "Failed"
    steps_by = {s["name"]: s for s in run["status"]["steps"]}
    assert (steps_by["test"]["phase"], steps_by["test"]["exitCode"]) == ("Failed", 3)
    assert (steps_by["build"]["phase"], steps_by["build"]["reason"]) == ("Skipped", "DependencyFailed")
    assert steps_by["cleanup"]["phase"] == "Succeeded"
    log = c8s.logs(name, "test")
    assert "about to fail" in log and "never" not in log
    cond = run["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Succeeded", "False", "StepFailed")
    assert "test (exit code 3)" in cond["message"]


def test_bitbucket_push_duplicates_and_bad_signatures(
    c8s: Instance, repo: tuple[str, str], tmp_path: Path
) -> None:
    """Bitbucket push runs; the same delivery again and a wrongly signed one create nothing."""
    url, commit = repo
    c8s.apply(
        tmp_path,
        secret("bb-hook", **{"webhook-secret": KEY.decode()}),
        pipeline("bb-ci", url, [step("hello", "echo hello from bitbucket")]),
        connection("bb", "bitbucket", BITBUCKET_REPO, "bb-ci", "bb-hook"),
    )
    delivery = str(uuid.uuid4())
    status, answer = c8s.post("bitbucket", *push("bitbucket", commit, "main", KEY, delivery))
    assert status == 202, answer
    [name] = answer["runs"]
    assert c8s.wait(name)["status"]["phase"] == "Succeeded"
    before = {r["metadata"]["name"] for r in c8s.runs()}
    again, _ = c8s.post("bitbucket", *push("bitbucket", commit, "main", KEY, delivery))
    forged, _ = c8s.post("bitbucket", *push("bitbucket", commit, "main", b"not-the-key"))
    assert (again, forged) == (200, 401)
    assert {r["metadata"]["name"] for r in c8s.runs()} == before
    rc = json.loads(c8s.c8s("get", "rc", "bb", "-o", "json").stdout)
    assert rc["status"]["lastEvent"]["commit"] == commit
    history = c8s.events(name)
    types = [line.split()[2] for line in history]
    assert types[0] == "run.requested" and types[-1] == "run.finished"
    assert types.count("step.started") == 1 and "log.shipped" in types


def test_cancel_kills_the_running_step(c8s: Instance, repo: tuple[str, str], tmp_path: Path) -> None:
    """`c8s cancel` on a manual run ends it Cancelled and kills its step's process."""
    url, commit = repo
    marker = tmp_path / "still-running"
    c8s.apply(
        tmp_path,
        pipeline(
            "slow-ci",
            url,
            [step("wait", f"sleep 60; touch {marker}"), step("after", "true", dependsOn=["wait"])],
        ),
    )
    [name] = c8s.c8s("run", "slow-ci", "--commit", commit, "--branch", "main").stdout.split()
    c8s.wait_step(name, "wait", "Running")
    assert "cancel requested" in c8s.c8s("cancel", name).stdout
    run = c8s.wait(name, deadline=60)
    assert run["status"]["phase"] == "Cancelled"
    assert [s["phase"] for s in run["status"]["steps"]] == ["Failed", "Skipped"]
    assert not marker.exists()


def test_step_timeout_fails_the_step(c8s: Instance, repo: tuple[str, str], tmp_path: Path) -> None:
    """A step running past its timeout is killed and fails with reason Timeout."""
    url, commit = repo
    c8s.apply(tmp_path, pipeline("timeout-ci", url, [step("hang", "echo start", "sleep 60", timeout="2s")]))
    [name] = c8s.c8s("run", "timeout-ci", "--commit", commit).stdout.split()
    run = c8s.wait(name, deadline=60)
    [hang] = run["status"]["steps"]
    assert (run["status"]["phase"], hang["phase"], hang["reason"]) == ("Failed", "Failed", "Timeout")
    assert "start" in c8s.logs(name, "hang")


def test_pipeline_timeout_stops_the_run(c8s: Instance, repo: tuple[str, str], tmp_path: Path) -> None:
    """A run past the pipeline timeout is stopped: Failed with reason PipelineTimeout."""
    url, commit = repo
    c8s.apply(
        tmp_path,
        pipeline(
            "ptimeout-ci",
            url,
            [step("hang", "sleep 60"), step("next", "true", dependsOn=["hang"])],
            timeout="3s",
        ),
    )
    [name] = c8s.c8s("run", "ptimeout-ci", "--commit", commit).stdout.split()
    run = c8s.wait(name, deadline=60)
    cond = run["status"]["conditions"][0]
    assert (run["status"]["phase"], cond["reason"]) == ("Failed", "PipelineTimeout")
    assert [s["phase"] for s in run["status"]["steps"]] == ["Failed", "Skipped"]
