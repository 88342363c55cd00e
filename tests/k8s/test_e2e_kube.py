"""Kubernetes mode end to end: `c8s dev up --kubeconfig` as real processes against the real control
plane (steps are Jobs whose pods the node agent runs), a repository served by `git daemon`, logs and
artifacts on a real S3 endpoint (moto's server mode), signed GitHub webhooks, and the final status
read from the PipelineRun CRs with kubectl (and the CLI with --kubeconfig).

Covers: dev up installs or finds the CRDs; a GitHub push running a DAG with a matrix minus an
exclude (one run per combination, MATRIX_* env, one Job per step with owner, labels, TTL and
backoffLimit 0), a branch-conditional step skipped, a secret masked in the log shipped to S3 (plain,
base64, URL-encoded; read back with `c8s logs`), an artifact uploaded to S3 (artifactURLs), the
PipelineConfig's run statistics and the RepositoryConnection's lastEvent projected;
`kubectl get pr` showing the same phase as `c8s get`; a failing variant (exit code, dependents
skipped, an onSuccess:false cleanup runs); a kubectl-created PipelineRun starting like a webhook one;
cancel through `c8s cancel` and through `kubectl patch`; a step timeout; the pipeline timeout.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import plane as plane_mod
import pytest

from tests.e2e.local import Instance, connection, pipeline, push, secret, step
from tests.k8s.kube_e2e import (
    eventually,
    fresh_namespace,
    kube_dev_up,
    kubectl,
    kubectl_json,
    repo,
    s3,
    s3_env,
    steps_of,
)

pytestmark = pytest.mark.k8s
__all__ = ["repo", "s3_env"]

TOKEN = "s3cr3t/" + uuid.uuid4().hex[:12] + "+=&x"  # URL-encoding changes it
KEY = b"webhook-key-" + uuid.uuid4().hex[:8].encode()
GITHUB_REPO = "https://github.com/octo-org/hello-world"


@pytest.fixture(scope="module")
def ns(control_plane: plane_mod.Plane) -> str:
    return fresh_namespace(control_plane)


@pytest.fixture(scope="module")
def c8s(
    control_plane: plane_mod.Plane, s3_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Instance]:
    home = tmp_path_factory.mktemp("kdev") / "c8s"
    with kube_dev_up(home, control_plane.kubeconfig, s3_env) as instance:
        yield instance


def matrix_steps(url: str) -> list[dict[str, object]]:
    return [
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


def test_github_push_runs_matrix_dag_as_jobs(
    c8s: Instance,
    control_plane: plane_mod.Plane,
    ns: str,
    repo: tuple[str, str],
    s3_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """A signed GitHub push starts one run per matrix combination; each runs its DAG as Jobs to Succeeded."""
    url, commit = repo
    matrix = {
        "dimensions": {"python": ["3.11", "3.12"], "os": ["linux", "mac"]},
        "exclude": [{"os": "mac", "python": "3.11"}],
    }
    c8s.apply(
        tmp_path,
        secret("app-secrets", ns, token=TOKEN),
        secret("gh-hook", ns, **{"webhook-secret": KEY.decode()}),
        pipeline("app-ci", url, matrix_steps(url), ns, matrix=matrix),
        connection("gh", "github", GITHUB_REPO, "app-ci", "gh-hook", ns),
    )
    status, answer = c8s.post("github", *push("github", commit, "main", KEY))
    assert status == 202, answer
    assert len(answer["runs"]) == 3
    combos = []
    for name in answer["runs"]:
        run = c8s.wait(name, ns)
        assert run["status"]["phase"] == "Succeeded", run["status"]
        phases = {n: (s["phase"], s.get("reason")) for n, s in steps_of(run).items()}
        assert phases["deploy"] == ("Skipped", "BranchNotMatched")
        assert {phases[s][0] for s in ("lint", "test", "build")} == {"Succeeded"}
        index = run["spec"]["matrixIndex"]
        combos.append((index["python"], index["os"]))
        check_masked_log(c8s.logs(name, "test", ns), index, commit)
        [artifact] = steps_of(run)["build"]["artifactURLs"]
        assert artifact.startswith("s3://") and artifact.endswith(f"dist/app-{index['python']}.txt")
        assert s3(s3_env).cat(artifact) == b"version 1\n"
        check_jobs(control_plane, ns, name, run["metadata"]["uid"])
        shown = kubectl(control_plane, "get", "pr", name, "-n", ns, "--no-headers")
        assert shown.split()[:2] == [name, "Succeeded"]
    assert sorted(combos) == [("3.11", "linux"), ("3.12", "linux"), ("3.12", "mac")]
    check_projected_stats(c8s, control_plane, ns, commit)


def check_projected_stats(c8s: Instance, plane: plane_mod.Plane, ns: str, commit: str) -> None:
    """The projector also wrote the PipelineConfig's run statistics and the connection's lastEvent,
    as kubectl and `c8s get` show them. kubectl needs the full names: its built-in short names
    `pc` (PriorityClass) and `rc` (ReplicationController) win over the CRDs' own."""

    def stats() -> bool:
        status = kubectl_json(plane, "get", "pipelineconfigs.c8s.dev", "app-ci", "-n", ns).get("status") or {}
        return (status.get("totalRuns"), status.get("finishedRuns"), status.get("successRate")) == (3, 3, 1.0)

    def last_event() -> bool:
        conn = kubectl_json(plane, "get", "repositoryconnections.c8s.dev", "gh", "-n", ns)
        return ((conn.get("status") or {}).get("lastEvent") or {}).get("commit") == commit

    eventually(stats, "PipelineConfig app-ci status: 3 runs, all succeeded", deadline=30)
    eventually(last_event, f"RepositoryConnection gh status: lastEvent.commit {commit}", deadline=30)
    shown = json.loads(c8s.c8s("get", "pc", "app-ci", "-n", ns, "-o", "json").stdout)
    assert shown["status"]["totalRuns"] == 3, shown
    shown = json.loads(c8s.c8s("get", "rc", "gh", "-n", ns, "-o", "json").stdout)
    assert shown["status"]["lastEvent"]["commit"] == commit, shown


def check_masked_log(log: str, index: dict[str, str], commit: str) -> None:
    assert f"python={index['python']} os={index['os']} commit={commit} branch=main" in log
    assert "token=***" in log and "url=***" in log
    for leaked in (TOKEN, base64.b64encode(TOKEN.encode()).decode(), urllib.parse.quote(TOKEN, safe="")):
        assert leaked not in log


def check_jobs(plane: plane_mod.Plane, ns: str, run: str, uid: str) -> None:
    """One Job per step that ran, owned by the run, with the c8s labels, TTL and no retries."""
    jobs = kubectl_json(plane, "get", "jobs", "-n", ns, "-l", f"c8s.dev/run={run}")["items"]
    assert sorted(j["metadata"]["labels"]["c8s.dev/step"] for j in jobs) == ["build", "lint", "test"]
    for job in jobs:
        assert job["metadata"]["name"] == f"{run}-{job['metadata']['labels']['c8s.dev/step']}"
        [owner] = job["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"]) == ("PipelineRun", uid)
        assert (job["spec"]["backoffLimit"], job["spec"]["ttlSecondsAfterFinished"]) == (0, 3600)


def test_failing_variant_skips_dependents_and_runs_cleanup(
    c8s: Instance, ns: str, repo: tuple[str, str], tmp_path: Path
) -> None:
    """A failing step fails the run with its exit code; dependents skip; a cleanup step still runs."""
    url, commit = repo
    steps = [
        step("test", "echo about to fail", "exit 3", "echo never"),
        step("build", "echo built", dependsOn=["test"]),
        step("cleanup", "echo cleaning up", dependsOn=["test"], conditional={"onSuccess": False}),
    ]
    c8s.apply(tmp_path, pipeline("fail-ci", url, steps, ns))
    [name] = c8s.c8s("run", "fail-ci", "--commit", commit, "--branch", "main", "-n", ns).stdout.split()
    run = c8s.wait(name, ns)
    by = steps_of(run)
    assert run["status"]["phase"] == "Failed"
    assert (by["test"]["phase"], by["test"]["exitCode"]) == ("Failed", 3)
    assert (by["build"]["phase"], by["build"]["reason"]) == ("Skipped", "DependencyFailed")
    assert by["cleanup"]["phase"] == "Succeeded"
    log = c8s.logs(name, "test", ns)
    assert "about to fail" in log and "never" not in log
    cond = run["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Succeeded", "False", "StepFailed")


def test_kubectl_created_run_starts(
    c8s: Instance, control_plane: plane_mod.Plane, ns: str, repo: tuple[str, str], tmp_path: Path
) -> None:
    """A PipelineRun created with kubectl is picked up and run like a webhook's."""
    url, commit = repo
    c8s.apply(tmp_path, pipeline("manual-ci", url, [step("hello", "echo hello from kubectl")], ns))
    body = {
        "apiVersion": "c8s.dev/v1alpha1",
        "kind": "PipelineRun",
        "metadata": {"name": "by-kubectl", "namespace": ns},
        "spec": {"pipelineConfigRef": "manual-ci", "commit": commit, "branch": "main"},
    }
    manifest = tmp_path / "run.json"
    manifest.write_text(json.dumps(body))
    kubectl(control_plane, "create", "-f", str(manifest))
    run = c8s.wait("by-kubectl", ns)
    assert run["status"]["phase"] == "Succeeded", run["status"]
    assert "hello from kubectl" in c8s.logs("by-kubectl", "hello", ns)
    assert (
        kubectl(control_plane, "get", "pr", "by-kubectl", "-n", ns, "--no-headers").split()[1] == "Succeeded"
    )


@pytest.mark.parametrize("how", ["c8s cancel", "kubectl patch"])
def test_cancel_stops_the_running_job(
    how: str, c8s: Instance, control_plane: plane_mod.Plane, ns: str, repo: tuple[str, str], tmp_path: Path
) -> None:
    """Cancelling a running run (CLI or spec.cancelRequested by kubectl) ends it Cancelled, its pod killed."""
    url, commit = repo
    marker = tmp_path / "still-running"
    config = f"slow-{how.split()[0]}"
    c8s.apply(
        tmp_path,
        pipeline(
            config,
            url,
            [step("wait", f"sleep 60; touch {marker}"), step("after", "true", dependsOn=["wait"])],
            ns,
        ),
    )
    [name] = c8s.c8s("run", config, "--commit", commit, "-n", ns).stdout.split()
    c8s.wait_step(name, "wait", "Running", ns)
    if how == "c8s cancel":
        assert "cancel requested" in c8s.c8s("cancel", name, "-n", ns).stdout
    else:
        kubectl(
            control_plane,
            "patch",
            "pr",
            name,
            "-n",
            ns,
            "--type=merge",
            "-p",
            '{"spec":{"cancelRequested":true}}',
        )
    run = c8s.wait(name, ns, deadline=60)
    assert run["status"]["phase"] == "Cancelled"
    assert [s["phase"] for s in run["status"]["steps"]] == ["Failed", "Skipped"]
    assert not marker.exists()


def test_step_timeout_fails_the_step(c8s: Instance, ns: str, repo: tuple[str, str], tmp_path: Path) -> None:
    """A step running past its timeout is stopped by its pod's deadline and fails with reason Timeout."""
    url, commit = repo
    c8s.apply(
        tmp_path, pipeline("timeout-ci", url, [step("hang", "echo start", "sleep 60", timeout="2s")], ns)
    )
    [name] = c8s.c8s("run", "timeout-ci", "--commit", commit, "-n", ns).stdout.split()
    run = c8s.wait(name, ns, deadline=60)
    [hang] = run["status"]["steps"]
    assert (run["status"]["phase"], hang["phase"], hang["reason"]) == ("Failed", "Failed", "Timeout")
    assert "start" in c8s.logs(name, "hang", ns)


def test_pipeline_timeout_stops_the_run(
    c8s: Instance, ns: str, repo: tuple[str, str], tmp_path: Path
) -> None:
    """A run past the pipeline timeout is stopped: Failed with reason PipelineTimeout."""
    url, commit = repo
    steps = [step("hang", "sleep 60"), step("next", "true", dependsOn=["hang"])]
    c8s.apply(tmp_path, pipeline("ptimeout-ci", url, steps, ns, timeout="3s"))
    [name] = c8s.c8s("run", "ptimeout-ci", "--commit", commit, "-n", ns).stdout.split()
    run = c8s.wait(name, ns, deadline=60)
    cond = run["status"]["conditions"][0]
    assert (run["status"]["phase"], cond["reason"]) == ("Failed", "PipelineTimeout")
    assert [s["phase"] for s in run["status"]["steps"]] == ["Failed", "Skipped"]
