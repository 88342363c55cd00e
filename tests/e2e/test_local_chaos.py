"""Local mode under an operator's bad day: a burst of signed pushes while every process of
`c8s dev up` is killed -9 again and again (issue 17).

RUNS signed GitHub pushes (each its own commit and delivery, resent like a provider does while
the webhook is down) go to a four-step pipeline (a -> b -> c, d after a) whose steps append the
run's name to a ledger outside their workspaces and print numbered lines. Meanwhile a bounded,
seeded chaos monkey (tests/e2e/chaos.py) kills the scheduler, runner, log-shipper, projector,
webhook, notifier and nats-server one every 1-3 s, and kills the runner right in the window
between claiming a step and announcing its start (at `step.claimed` and at `step.launched`).
`c8s dev up` restarts each one.

Covers: one run per delivery; every run Succeeded; each step of each run ran exactly once (the
ledger); every stored log complete, each line exactly once, and every step has its logURL.
The seed is C8S_CHAOS_SEED (default 17); the kills are printed, and named in any failure.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.chaos import Chaos
from tests.e2e.local import TERMINAL, Instance, connection, deliver, ledger_step, pipeline, push, secret
from tests.support.dev_up import DevUp
from tests.support.git_daemon import GitDaemon, GitRepo

RUNS = 20
LINES = 15
STEPS = {"a": [], "b": ["a"], "c": ["b"], "d": ["a"]}
KEY = b"chaos-" + uuid.uuid4().hex[:8].encode()
GITHUB_REPO = "https://github.com/octo-org/hello-world"
#: Random kills per victim: the runner also gets TARGETED kills in its claim window, and the
#: supervisor's backoff doubles per quick death (1, 2, 4, 8 s), so budgets stay small.
BUDGET = {
    "scheduler": 2,
    "runner": 1,
    "log-shipper": 2,
    "projector": 2,
    "webhook": 2,
    "notifier": 2,
    "nats-server": 2,
}
TARGETED = 3
CHAOS_SECONDS = 75


@pytest.fixture
def commits(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A repository with RUNS commits, served by git daemon: (URL, the commits)."""
    repo = GitRepo.create(tmp_path / "repos" / "app.git")
    shas = [repo.commit({"version.txt": f"{i}\n"}, f"commit {i}") for i in range(RUNS)]
    with GitDaemon(tmp_path / "repos") as daemon:
        yield daemon.url("app.git"), shas


def settled(c8s: Instance) -> list[dict[str, Any]] | None:
    """The chaos pipeline's runs once there are RUNS of them, all terminal; else None."""
    try:
        runs = [r for r in c8s.runs() if r["spec"]["pipelineConfigRef"] == "chaos-ci"]
    except AssertionError:  # the CLI can fail while nats-server restarts
        return None
    done = [r for r in runs if r.get("status", {}).get("phase") in TERMINAL]
    return runs if len(runs) >= RUNS and len(done) == len(runs) else None


def stored_log(home: Path, run: dict[str, Any], step_name: str) -> str:
    uid = run["metadata"]["uid"]
    return (home / "objects" / "default" / run["metadata"]["name"] / uid / f"{step_name}.log").read_text()


def test_a_burst_of_pushes_survives_repeated_kill_9_of_every_process(
    commits: tuple[str, list[str]], tmp_path: Path
) -> None:
    """Every run Succeeded, each step ran exactly once and every log is whole, despite the kills."""
    url, shas = commits
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    with DevUp(tmp_path / "c8s", env={"C8S_ACK_WAIT_SECONDS": "3"}) as dev:
        dev.wait_for(r"^c8s is up$", deadline=120)
        c8s = Instance(dev)
        steps = [ledger_step(name, ledger, deps, LINES, pause=0.02) for name, deps in STEPS.items()]
        c8s.apply(
            tmp_path,
            secret("hook", **{"webhook-secret": KEY.decode()}),
            # Every push is on main: without this, each would cancel the runs before it.
            pipeline("chaos-ci", url, steps, cancelSuperseded=False),
            connection("gh", "github", GITHUB_REPO, "chaos-ci", "hook"),
        )
        seed = int(os.environ.get("C8S_CHAOS_SEED", "17"))
        chaos = Chaos(dev, BUDGET, seed=seed, seconds=CHAOS_SECONDS, targeted=TARGETED).start()
        started = time.monotonic()
        try:
            for sha in shas:
                deliver(c8s, "github", *push("github", sha, "main", KEY))
            # 240 s, inside pytest-timeout's 300: a stuck burst fails below with the kills named
            ended = c8s.poll(lambda: settled(c8s) is not None, deadline=240)
        finally:
            chaos.stop()
        print(f"\nchaos (seed {seed}): {chaos.summary()}; runs settled in {time.monotonic() - started:.0f}s")
        assert ended, f"the runs did not all end ({chaos.summary()}):\n{_unsettled(c8s, dev.home)}"
        runs = settled(c8s)
        assert runs is not None
        assert len(runs) == RUNS, f"{len(runs)} runs for {RUNS} deliveries"
        failed = {r["metadata"]["name"]: r["status"] for r in runs if r["status"]["phase"] != "Succeeded"}
        assert not failed, f"runs not Succeeded ({chaos.summary()}): {failed}"
        names = sorted(r["metadata"]["name"] for r in runs)
        for name in STEPS:
            ran = sorted((ledger / name).read_text().split())
            assert ran == names, f"step {name} did not run exactly once per run ({chaos.summary()})"
        for run in runs:
            for name in STEPS:
                expected = "".join(f"{name} line {i}\n" for i in range(1, LINES + 1))
                assert stored_log(dev.home, run, name) == expected, f"log of {name}: {run['metadata']}"
            assert all(s.get("logURL") for s in run["status"]["steps"]), run["status"]["steps"]
        assert chaos.random_kills.keys() == BUDGET.keys(), chaos.summary()
        restarts = (dev.home / "logs" / "runner.log").read_text().count('"step.restarted"')
        print(f"steps started again after a runner died in their claim window: {restarts}")
        assert restarts >= 1, f"no kill landed between a claim and its start ({chaos.summary()})"
        assert dev.stop() == 0


def _unsettled(c8s: Instance, home: Path) -> str:
    """For a failure: the runs not ended yet, and the end of every service's log."""
    try:
        runs = c8s.runs()
    except AssertionError as e:  # the CLI failing is worth reporting too
        runs, open_error = [], [f"listing the runs failed: {e}"]
    else:
        open_error = []
    open_runs = [f"{r['metadata']['name']}: {(r.get('status') or {}).get('phase')}" for r in runs
                 if (r.get("status") or {}).get("phase") not in TERMINAL]
    tails = [f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
             for log in sorted((home / "logs").glob("*.log"))]
    return "\n".join([*open_error, *open_runs, *tails])
