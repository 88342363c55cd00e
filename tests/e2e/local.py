"""Helpers for end-to-end tests of local mode: a running `c8s dev up`, the CLI against it, signed
provider webhooks, and polling for a run's final status (with a deadline, never a sleep)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.support.dev_up import DevUp
from tests.support.webhooks import headers_for, payload

TERMINAL = ("Succeeded", "Failed", "Cancelled")


class Instance:
    """A `c8s dev up` under test, with the CLI and the webhook endpoint at hand."""

    def __init__(self, dev: DevUp, *cli_args: str, env: dict[str, str] | None = None) -> None:
        """`cli_args` are added to every CLI command (e.g. --kubeconfig); `env` replaces its environment."""
        self.dev = dev
        self.server = f"nats://127.0.0.1:{dev.nats_port}"
        self.webhook = f"http://127.0.0.1:{dev.webhook_port}/webhooks"
        self.cli_args = ("--server", self.server, *cli_args)
        self.env = env

    def c8s(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        base = os.environ if self.env is None else self.env
        done = subprocess.run(
            [sys.executable, "-m", "c8s.cli", *argv, *self.cli_args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={**base, **self.dev.cli_env()},
        )
        if check and done.returncode != 0:
            raise AssertionError(f"c8s {' '.join(argv)} exited {done.returncode}: {done.stderr}{done.stdout}")
        return done

    def apply(self, tmp: Path, *docs: dict[str, Any]) -> None:
        path = tmp / f"manifests-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        self.c8s("apply", "-f", str(path))

    def run(self, name: str, ns: str = "default") -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.c8s("get", "pr", name, "-n", ns, "-o", "json").stdout)
        return out

    def runs(self, ns: str = "default") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(self.c8s("get", "pr", "-n", ns, "-o", "json").stdout)[
            "items"
        ]
        return items

    def wait(
        self, name: str, ns: str = "default", phases: tuple[str, ...] = TERMINAL, deadline: float = 120
    ) -> dict[str, Any]:
        """The run once its phase is one of `phases` (and, when terminal, every step settled)."""
        end = time.monotonic() + deadline
        while True:
            run = self.run(name, ns)
            if run.get("status", {}).get("phase") in phases:
                return run
            if time.monotonic() > end:
                raise AssertionError(
                    f"run {ns}/{name} not in {phases} within {deadline}s: {run.get('status')}"
                )
            time.sleep(0.2)

    def wait_step(self, name: str, step: str, phase: str, ns: str = "default", deadline: float = 60) -> None:
        end = time.monotonic() + deadline
        while True:
            steps = {s["name"]: s for s in self.run(name, ns).get("status", {}).get("steps", [])}
            if steps.get(step, {}).get("phase") == phase:
                return
            if time.monotonic() > end:
                raise AssertionError(f"step {step} of {ns}/{name} not {phase} within {deadline}s: {steps}")
            time.sleep(0.1)

    def poll(self, check: Callable[[], bool], deadline: float = 60) -> bool:
        """True once `check()` is; False at the deadline."""
        end = time.monotonic() + deadline
        while not check():
            if time.monotonic() > end:
                return False
            time.sleep(0.2)
        return True

    def wait_events(
        self, name: str, kind: str, count: int, ns: str = "default", deadline: float = 60
    ) -> None:
        """Until the run's history holds `count` events of type `kind`."""

        def enough() -> bool:
            return [line.split()[2] for line in self.events(name, ns)].count(kind) >= count

        assert self.poll(enough, deadline), f"fewer than {count} {kind} events: {self.events(name, ns)}"

    def logs(self, name: str, step: str, ns: str = "default") -> str:
        return self.c8s("logs", name, step, "-n", ns).stdout

    def events(self, name: str, ns: str = "default") -> list[str]:
        return self.c8s("events", name, "-n", ns).stdout.splitlines()

    def post(self, provider: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"{self.webhook}/{provider}", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")


def secret(name: str, ns: str = "default", **values: str) -> dict[str, Any]:
    data = {
        k.replace("_", "-") if k == "webhook_secret" else k: base64.b64encode(v.encode()).decode()
        for k, v in values.items()
    }
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "data": data}


def connection(
    name: str, provider: str, repository: str, config: str, webhook_secret: str, ns: str = "default"
) -> dict[str, Any]:
    return {
        "apiVersion": "c8s.dev/v1alpha1",
        "kind": "RepositoryConnection",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "repository": repository,
            "provider": provider,
            "webhookSecretRef": webhook_secret,
            "pipelineConfigRef": config,
        },
    }


def pipeline(
    name: str, repository: str, steps: list[dict[str, Any]], ns: str = "default", **extra: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "c8s.dev/v1alpha1",
        "kind": "PipelineConfig",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"repository": repository, "steps": steps, **extra},
    }


def step(name: str, *commands: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "alpine:3.20", "commands": list(commands), **extra}


def ledger_step(name: str, ledger: Path, deps: list[str], lines: int, pause: float = 0.0) -> dict[str, Any]:
    """A step that appends its run's name to `ledger/<name>` (outside its workspace: how a test
    counts executions), then prints `lines` numbered lines, `pause` seconds apart."""
    wait = f"; sleep {pause}" if pause else ""
    return step(
        name,
        f'echo "$C8S_RUN" >> {ledger / name}',
        f'for i in $(seq 1 {lines}); do echo "{name} line $i"{wait}; done',
        dependsOn=deps,
    )


def deliver(c8s: Instance, provider: str, body: bytes, headers: dict[str, str], deadline: float = 90) -> None:
    """One signed delivery, resent as providers do (same delivery id) until the webhook answers
    200 or 202: while it restarts or a replica dies, connections fail or it answers 5xx."""
    answers: list[object] = []

    def accepted() -> bool:
        try:
            status, answer = c8s.post(provider, body, headers)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            answers.append(repr(e))
            return False
        assert status in (200, 202) or status >= 500, f"delivery refused: {status} {answer}"
        answers.append(status)
        return status in (200, 202)

    assert c8s.poll(accepted, deadline=deadline), f"delivery never accepted: {answers[-5:]}"


def pull_request(
    commit: str, number: int, head: str, key: bytes, *, fork: bool
) -> tuple[bytes, dict[str, str]]:
    """GitHub's documented pull_request (opened) payload for `commit` at `head`, targeting main; the
    head repository is a fork's when `fork`."""
    data = payload("github_pull_request_opened")
    pr = data["pull_request"]
    data["number"] = pr["number"] = number
    pr["head"].update(sha=commit, ref=head)
    pr["base"]["ref"] = "main"
    if fork:
        pr["head"]["repo"] = pr["head"]["repo"] | {
            "full_name": "forker/hello-world", "clone_url": "https://github.com/forker/hello-world.git",
        }  # fmt: skip
    body = json.dumps(data).encode()
    return body, headers_for("github", "pull_request", body, key, str(uuid.uuid4()))


def push(
    provider: str,
    commit: str,
    branch: str,
    key: bytes,
    delivery: str | None = None,
    before: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A provider's documented push payload for `commit` on `branch`, signed with `key`; `before` (the
    ref's previous commit, GitHub only) makes a body distinct from an earlier push of the same commit,
    which the webhook would otherwise refuse as a replay."""
    delivery = delivery or str(uuid.uuid4())
    if provider == "github":
        data = payload("github_push")
        data.update(ref=f"refs/heads/{branch}", after=commit)
        if before:
            data["before"] = before
        data["head_commit"]["id"] = commit
        event = "push"
    elif provider == "gitlab":
        data = payload("gitlab_push")
        data.update(ref=f"refs/heads/{branch}", after=commit, checkout_sha=commit)
        event = "Push Hook"
    else:
        data = payload("bitbucket_repo_push")
        change = data["push"]["changes"][0]
        change["new"]["name"] = branch
        change["new"]["target"]["hash"] = commit
        event = "repo:push"
    body = json.dumps(data).encode()
    return body, headers_for(provider, event, body, key, delivery)


@contextmanager
def running_instance(base: Path) -> Iterator[Instance]:
    """`c8s dev up` under `base`, up and ready; it must stop cleanly (exit 0) at the end."""
    with DevUp(base / "c8s") as dev:
        dev.wait_for(r"^c8s is up$", deadline=120)
        yield Instance(dev)
        assert dev.stop() == 0
