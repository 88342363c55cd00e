"""Steps that try to outlive their limits, in local mode (runner, detached shim, real processes).

Covers (issue 12): a process the step moved to a session of its own (`setsid ... &`) is ended at
the step's timeout, on a cancel, and when the step ends by itself, and is gone by the time
StepFinished is in the history; output the escapee still holds does not delay the step's end; a
step that ignores SIGTERM is killed after the grace period on a cancel; a step stopped by its
timeout whose shell exits 0 is not a success; the raw log is 0600 and the step's workspace is
removed once the step is reported; the secret values the step was given are in a 0600 snapshot
(for the log-shipper) by the time StepStarted is published.
"""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import pytest

from adapters.jetstream.server import NatsServer
from api.meta import ObjectMeta
from api.pipelineconfig import SecretEnv, Step
from api.secret import Secret
from events import run as ev
from projections.run_status import fold
from tests.integration.conftest import eventually
from tests.support.runner_harness import (
    NS,
    RunnerEnv,
    alive,
    escapee,
    finished,
    history,
    ident,
    run_events,
    runner_env,
    running,
    served_repo,
    wait_for_file,
)

#: Far below the escapees' sleeps (200-401 s): a step ending by this deadline did not wait on them.
DEADLINE = 15.0


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with served_repo(tmp_path) as served:
        yield served


@pytest.fixture
async def env(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[RunnerEnv]:
    async with runner_env(nats_server, tmp_path) as made:
        yield made


def step(*commands: str, **kw: object) -> Step:
    return Step(name="build", image="alpine:3", commands=list(commands), **kw)  # type: ignore[arg-type]


async def run_step(env: RunnerEnv, repo: tuple[str, str], the_step: Step) -> None:
    url, sha = repo
    await env.bus.publish_many(run_events(the_step, repository=url, commit=sha))


def pid_in(path: Path) -> int:
    return int(path.read_text())


async def test_setsid_escapee_holding_the_output_is_killed_at_timeout(
    env: RunnerEnv, repo: tuple[str, str], tmp_path: Path
) -> None:
    """`setsid sleep 200 &` (holding the log pipe) dies at the 1 s timeout, before StepFinished."""
    pid_file = tmp_path / "escapee.pid"
    await run_step(env, repo, step(escapee(pid_file, 200), "sleep 300", timeout="1s"))
    async with running(env.runner()):
        done = await finished(env.bus, "build", deadline=DEADLINE)
        assert not alive(pid_in(pid_file))
    assert done.reason == "Timeout"
    assert not done.succeeded


async def test_escapee_ignoring_term_is_killed_on_cancel_within_the_grace_period(
    env: RunnerEnv, repo: tuple[str, str], tmp_path: Path
) -> None:
    """A step that ignores SIGTERM, with a setsid child that does too, is Cancelled after the grace."""
    pid_file = tmp_path / "escapee.pid"
    commands = ["trap '' TERM", escapee(pid_file, 300, ignore_term=True), "echo started", "sleep 300"]
    await run_step(env, repo, step(*commands))
    async with running(env.runner()):
        await eventually(lambda: _exists(pid_file))
        await env.bus.publish(ev.RunCancelled(message="by test", **ident("app-ci-1", "uid-1")))
        done = await finished(env.bus, "build", deadline=DEADLINE)
        assert not alive(pid_in(pid_file))
    assert done.reason == "Cancelled"
    assert done.exit_code == 128 + 9


async def test_quiet_escapee_does_not_outlive_a_succeeded_step(
    env: RunnerEnv, repo: tuple[str, str], tmp_path: Path
) -> None:
    """`setsid sleep 401 >/dev/null &` is ended when the step's shell exits 0; the step succeeds."""
    pid_file = tmp_path / "escapee.pid"
    await run_step(env, repo, step(escapee(pid_file, 401, quiet=True), wait_for_file(pid_file)))
    async with running(env.runner()):
        done = await finished(env.bus, "build", deadline=DEADLINE)
        assert not alive(pid_in(pid_file))
    assert (done.exit_code, done.reason, done.succeeded) == (0, "Completed", True)


async def test_timed_out_step_whose_shell_exits_0_is_failed(env: RunnerEnv, repo: tuple[str, str]) -> None:
    """A TERM trap that exits 0 at the timeout leaves exit code 0, reason Timeout, phase Failed."""
    await run_step(env, repo, step("trap 'exit 0' TERM", "echo started", "sleep 300 & wait", timeout="1s"))
    async with running(env.runner()):
        done = await finished(env.bus, "build", deadline=DEADLINE)
    assert (done.exit_code, done.reason, done.succeeded) == (0, "Timeout", False)
    status = fold(enumerate(await history(env.bus), start=1))
    assert [(s.name, s.phase, s.reason) for s in status.steps] == [("build", "Failed", "Timeout")]


async def test_raw_log_is_private_and_the_workspace_goes_once_reported(
    env: RunnerEnv, repo: tuple[str, str]
) -> None:
    """The raw log is created 0600 and the step's directory (workspace, home) 0700, removed once reported."""
    await run_step(env, repo, step("echo hello", "stat -c %a . .. > $HOME/../../modes"))
    files = env.files("app-ci-1", "uid-1", "build")
    async with running(env.runner()):
        await finished(env.bus, "build", deadline=DEADLINE)
        await eventually(lambda: _gone(files.step_dir))
    assert stat.S_IMODE(files.log.stat().st_mode) == 0o600
    assert files.log.read_text() == "hello\n"
    assert (files.dir / "modes").read_text().split() == ["700", "700"]


async def test_secret_values_are_snapshotted_before_step_started(
    env: RunnerEnv, repo: tuple[str, str]
) -> None:
    """When StepStarted is in the history, `<step>.mask` (0600) holds the step's secret value."""
    secret = Secret(metadata=ObjectMeta(name="db", namespace=NS), string_data={"password": "hunter2-xyz"})
    await env.store.create(secret)
    refs = [SecretEnv(secret_ref="db", key="password", env_var="DB_PASSWORD")]
    await run_step(env, repo, step("echo started", "sleep 300", secrets=refs))
    mask = env.files("app-ci-1", "uid-1", "build").mask
    async with running(env.runner()):
        await eventually(lambda: _started(env))
        assert stat.S_IMODE(mask.stat().st_mode) == 0o600
        assert msgspec.json.decode(mask.read_bytes(), type=list[bytes]) == [b"hunter2-xyz"]


async def _started(env: RunnerEnv) -> bool:
    return any(isinstance(e, ev.StepStarted) for e in await history(env.bus))


async def _exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)


async def _gone(path: Path) -> bool:
    return not await _exists(path)
