"""Checkouts made ahead of a run's steps (services.runner.prefetch, lookahead), against a real
nats-server, the KV store and real git served by `git daemon`.

Covers: a PipelineRun created in the store gets its checkout made before anything is scheduled,
and its step runs in it (proved by stopping the git daemon before the step is scheduled: the step
still runs the run's commit); a step whose accepted plan names another repository than the one
prefetched clones its own and the prefetched checkout is removed; a run's end (RunRejected) and
the time to live each remove a checkout nobody took; at start a runner removes the prefetch
directory of a dead runner (its lock free) and keeps a live one's (its lock held).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.jetstream.server import NatsServer
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig, PipelineConfigSpec, Step
from api.pipelinerun import PipelineRun, PipelineRunSpec
from events import run as ev
from tests.integration.conftest import eventually
from tests.support.git_daemon import GitDaemon, GitRepo
from tests.support.runner_harness import (
    CONFIG,
    NS,
    RunnerEnv,
    finished,
    ident,
    run_events,
    runner_env,
    running,
)


@pytest.fixture
async def env(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[RunnerEnv]:
    async with runner_env(nats_server, tmp_path) as e:
        yield e


def step(*commands: str) -> Step:
    return Step(name="build", image="alpine:3", commands=list(commands))


def prefetched(home: Path) -> list[Path]:
    """The checkouts made ahead and not taken (services.runner.prefetch's layout)."""
    return sorted((home / "prefetch").glob("*/*/workspace"))


async def new_run(env: RunnerEnv, repository: str, commit: str, the_step: Step) -> PipelineRun:
    """The config naming `repository`, and a PipelineRun of it created as the webhook would."""
    config = PipelineConfig(
        metadata=ObjectMeta(name=CONFIG, namespace=NS),
        spec=PipelineConfigSpec(repository=repository, steps=[the_step]),
    )
    await env.store.apply(config)
    run = PipelineRun(
        metadata=ObjectMeta(name="app-ci-1", namespace=NS),
        spec=PipelineRunSpec(pipeline_config_ref=CONFIG, commit=commit, branch="main"),
    )
    return await env.store.create(run)


async def ready(home: Path, deadline: float = 20.0) -> Path:
    """The one prefetched checkout, once complete (its file is in place: made whole, then renamed)."""

    async def check() -> Path | None:
        found = prefetched(home)
        return found[0] if len(found) == 1 and (found[0] / "version.txt").exists() else None

    return await eventually(check, deadline)


async def none_left(home: Path) -> bool:
    return not prefetched(home)


async def test_a_new_run_is_checked_out_ahead_and_its_step_runs_in_that_checkout(
    env: RunnerEnv, tmp_path: Path
) -> None:
    """The checkout is made from the PipelineRun alone; with the git daemon stopped before the step
    is even scheduled, the step still runs in a checkout of the run's commit."""
    repo = GitRepo.create(tmp_path / "repos" / "app.git")
    first = repo.commit({"version.txt": "first\n"}, "first")
    repo.commit({"version.txt": "second\n"}, "second")
    the_step = step("cat version.txt", "git rev-parse HEAD")
    async with running(env.runner()):
        with GitDaemon(tmp_path / "repos") as daemon:
            url = daemon.url("app.git")
            run = await new_run(env, url, first, the_step)
            await ready(env.home)
        events = run_events(the_step, repository=url, commit=first, uid=run.metadata.uid)
        await env.bus.publish_many(events)
        done = await finished(env.bus, "build")
        assert await eventually(lambda: none_left(env.home))
    assert (done.exit_code, done.reason) == (0, "Completed")
    log = env.files("app-ci-1", run.metadata.uid, "build").log.read_text()
    assert log == f"first\n{first}\n"


async def test_a_plan_naming_another_source_clones_its_own(env: RunnerEnv, tmp_path: Path) -> None:
    """The config is edited between the run's creation and its acceptance (another repository):
    the step runs in a clone of the accepted one, and the prefetched checkout is removed."""
    old = GitRepo.create(tmp_path / "repos" / "old.git")
    old_commit = old.commit({"version.txt": "old\n"}, "old")
    new = GitRepo.create(tmp_path / "repos" / "new.git")
    new_commit = new.commit({"version.txt": "new\n"}, "new")
    the_step = step("cat version.txt")
    with GitDaemon(tmp_path / "repos") as daemon:
        async with running(env.runner()):
            run = await new_run(env, daemon.url("old.git"), old_commit, the_step)
            await ready(env.home)
            accepted = run_events(
                the_step, repository=daemon.url("new.git"), commit=new_commit, uid=run.metadata.uid
            )
            await env.bus.publish_many(accepted)
            done = await finished(env.bus, "build")
            assert await eventually(lambda: none_left(env.home))
    assert (done.exit_code, done.reason) == (0, "Completed")
    assert env.files("app-ci-1", run.metadata.uid, "build").log.read_text() == "new\n"


async def test_the_runs_end_removes_a_checkout_nobody_took(env: RunnerEnv, tmp_path: Path) -> None:
    """RunRejected (here: before any step) removes the run's prefetched checkout."""
    repo = GitRepo.create(tmp_path / "repos" / "app.git")
    commit = repo.commit({"version.txt": "1\n"}, "first")
    with GitDaemon(tmp_path / "repos") as daemon:
        async with running(env.runner()):
            run = await new_run(env, daemon.url("app.git"), commit, step("true"))
            await ready(env.home)
            rejected = ev.RunRejected(
                reason="QuotaExceeded", message="never fits", **ident("app-ci-1", run.metadata.uid)
            )
            await env.bus.publish(rejected)
            assert await eventually(lambda: none_left(env.home))


async def test_a_checkout_nobody_takes_expires(env: RunnerEnv, tmp_path: Path) -> None:
    """No step and no end seen (another runner took the run, say): removed after prefetch_seconds."""
    repo = GitRepo.create(tmp_path / "repos" / "app.git")
    commit = repo.commit({"version.txt": "1\n"}, "first")
    with GitDaemon(tmp_path / "repos") as daemon:
        async with running(env.runner(prefetch_seconds=1.0)) as runner:
            await new_run(env, daemon.url("app.git"), commit, step("true"))
            await ready(env.home)
            assert await eventually(lambda: none_left(env.home))
            assert runner.deps.prefetcher.runs == {}


async def test_at_start_a_dead_runners_prefetches_go_and_a_live_ones_stay(env: RunnerEnv) -> None:
    """A directory whose lock nobody holds is removed when a runner starts; one whose lock is held
    (a live replica sharing the home) is kept."""
    parent = env.home / "prefetch"
    for name in ("dead", "live"):
        (parent / name / "x" / "workspace").mkdir(parents=True)
        (parent / f"{name}.lock").touch()
    (parent / "orphan" / "x").mkdir(parents=True)  # no lock at all: its runner died mid-removal
    held = os.open(parent / "live.lock", os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        async with running(env.runner()):

            async def swept() -> bool:
                return not (parent / "dead").exists() and not (parent / "orphan").exists()

            assert await eventually(swept)
            assert (parent / "live" / "x" / "workspace").is_dir()
            assert not (parent / "dead.lock").exists()
    finally:
        os.close(held)
