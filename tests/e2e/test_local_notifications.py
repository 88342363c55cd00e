"""Commit statuses end to end in local mode: a signed GitHub push, a whole run under `c8s dev up`,
and the notifier reporting to a fake GitHub API that checks every request against GitHub's
documented shape.

Covers: `pending` then `success` arrive in that order, exactly once each, with context
`c8s/<config>` and a link to the run's dashboard page (which opens it), even though the notifier
is killed (-9) while the run is going and restarted by `c8s dev up`; the webhook is registered
and the connection says so.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.local import Instance, pipeline, secret, step
from tests.support.dev_up import DevUp
from tests.support.fake_github import FakeGitHub, push_to_org_app
from tests.support.fake_providers import TOKEN
from tests.support.git_daemon import GitDaemon, GitRepo

KEY = b"hook-" + uuid.uuid4().hex[:8].encode()


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


def test_statuses_arrive_once_each_in_order_despite_notifier_kill(github: FakeGitHub, tmp_path: Path) -> None:
    """pending then success, once each, though the notifier was killed mid-run."""
    repo = GitRepo.create(tmp_path / "repos" / "app.git")
    commit = repo.commit({"README": "notify\n"}, "first")
    env = {"C8S_ACK_WAIT_SECONDS": "3", "C8S_GITHUB_API_URL": f"{github.fake.url}/api/v3"}
    with GitDaemon(tmp_path / "repos") as daemon, DevUp(tmp_path / "c8s", env=env) as dev:
        dev.wait_for(r"^c8s is up$", deadline=120)
        c8s = Instance(dev)
        connection = {
            "apiVersion": "c8s.dev/v1alpha1",
            "kind": "RepositoryConnection",
            "metadata": {"name": "app", "namespace": "default"},
            "spec": {
                "repository": "https://github.com/org/app",
                "provider": "github",
                "webhookSecretRef": "hook",
                "authSecretRef": "gh-auth",
                "pipelineConfigRef": "app-ci",
            },
        }
        gate = tmp_path / "gate"  # the slow step runs until the test opens it, however slow the machine
        slow = step("slow", f"while [ ! -f {gate} ]; do sleep 0.05; done")
        steps = [slow, step("fast", "true", dependsOn=["slow"])]
        c8s.apply(
            tmp_path,
            secret("hook", **{"webhook-secret": KEY.decode()}),
            secret("gh-auth", username="c8s-bot", password=TOKEN),
            pipeline("app-ci", daemon.url("app.git"), steps),
            connection,
        )
        status, answer = c8s.post("github", *push_to_org_app(commit, KEY))
        assert status == 202, answer
        [name] = answer["runs"]
        c8s.wait_step(name, "slow", "Running")
        os.kill(dev.pids()["notifier"], signal.SIGKILL)
        dev.wait_for(r"^notifier restarted", deadline=60)
        gate.touch()
        assert c8s.wait(name)["status"]["phase"] == "Succeeded"
        c8s.wait_events(name, "notification.sent", count=2)
        registered = c8s.poll(lambda: _registered(c8s))
        with urllib.request.urlopen(github.fake.statuses[-1].target_url, timeout=10) as page:
            assert page.status == 200 and f"default/{name}" in page.read().decode()  # the link opens the run
    posted = [(p.state, p.context, p.sha) for p in github.fake.statuses]
    assert posted == [("pending", "c8s/app-ci", commit), ("success", "c8s/app-ci", commit)]
    link = f"http://127.0.0.1:{dev.dashboard_port}/runs/default/{name}"
    assert all(p.target_url == link for p in github.fake.statuses)
    assert github.fake.violations == []
    assert registered


def _registered(c8s: Instance) -> bool:
    rc = json.loads(c8s.c8s("get", "rc", "app", "-o", "json").stdout)
    return bool(rc.get("status", {}).get("webhookRegistered"))
