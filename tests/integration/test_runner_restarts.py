"""The runner as its own process, killed with SIGKILL mid-step and started again.

Covers: the step's process survives the runner (it runs under its detached shim); a restarted
runner re-attaches to a step still running and to one that finished while no runner was up, and
reports the real exit code exactly once (one StepStarted, one StepFinished, the output once); a
step whose shim died too is reported as RunnerLost, saying it may have run.
The runner killed in each window of a step's start (issue 17): after the claim and before the
checkout (the claim a dead runner leaves), during the checkout (the clone held at a TCP gate),
after the shim started the process and before StepStarted was published (the bus down): the
restarted runner starts the step again when its process never started, and reports it exactly
once either way, with no StepStarted before the process ran; after StepStarted: the tests above.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from adapters.object_store import FsspecObjectStore
from api.pipelineconfig import Step
from events import run as ev
from services.runner.step_files import read_started
from tests.integration.conftest import bus_settings, eventually
from tests.support.git_daemon import GitDaemon, GitRepo
from tests.support.runner_harness import (
    RunnerEnv,
    claim_as_a_dead_runner,
    count,
    finished,
    history,
    run_events,
    stop_leftovers,
)
from tests.support.tcp_gate import TcpGate


@pytest.fixture
def repo_url(tmp_path: Path) -> Iterator[tuple[str, str]]:
    repo = GitRepo.create(tmp_path / "repos" / "app.git")
    sha = repo.commit({"version.txt": "1\n"}, "first")
    with GitDaemon(tmp_path / "repos") as daemon:
        yield daemon.url("app.git"), sha


@pytest.fixture
def gated_repo(repo_url: tuple[str, str]) -> Iterator[tuple[TcpGate, str, str]]:
    """The repository behind a closed TCP gate: (gate, its git URL, the commit)."""
    url, sha = repo_url
    port = int(url.split(":")[2].split("/")[0])
    with TcpGate(port) as gate:
        yield gate, f"git://127.0.0.1:{gate.port}/app.git", sha


@pytest.fixture
async def env(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[RunnerEnv]:
    bus = await NatsBus.connect(bus_settings(nats_server))
    await bus.ensure_streams()
    store = KvStore.from_connection(bus.connection)
    objects = FsspecObjectStore((tmp_path / "objects").as_uri())
    yield RunnerEnv(bus=bus, store=store, objects=objects, home=tmp_path / "home")
    await stop_leftovers(tmp_path / "home")
    await bus.close()


class RunnerProcess:
    """`python -m services.runner` against the test's server, home and object store."""

    def __init__(self, server: NatsServer, home: Path, output: Path) -> None:
        self.env = {
            "PATH": os.environ["PATH"],
            "C8S_NATS_URL": server.url,
            "C8S_HOME": str(home),
            "C8S_LOG_STORE": (home.parent / "objects").as_uri(),
            "C8S_POLL_SECONDS": "0.05",
            "C8S_KILL_GRACE_SECONDS": "0.5",
        }
        self.output = output
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        with self.output.open("ab") as out:
            argv = [sys.executable, "-m", "services.runner"]
            self.procs.append(subprocess.Popen(argv, env=self.env, stdout=out, stderr=out))

    def log(self) -> str:
        return self.output.read_text()

    def kill(self) -> None:
        proc = self.procs[-1]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)


@pytest.fixture
def runner_process(nats_server: NatsServer, tmp_path: Path) -> Iterator[RunnerProcess]:
    runner = RunnerProcess(nats_server, tmp_path / "home", tmp_path / "runner.out")
    yield runner
    runner.stop()


def gated_step(gate: Path, *extra: str) -> Step:
    commands = ["echo started", f"while [ ! -f {gate} ]; do sleep 0.02; done", "echo after", *extra, "exit 7"]
    return Step(name="build", image="alpine:3", commands=commands)


async def _started(env: RunnerEnv) -> None:
    log = env.files("app-ci-1", "uid-1", "build").log

    async def check() -> bool:
        return log.exists() and "started\n" in log.read_text()

    await eventually(check, 20)


async def _exists(path: Path) -> None:
    async def check() -> bool:
        return await asyncio.to_thread(path.exists)

    await eventually(check, 20)


async def _assert_reported_once(env: RunnerEnv) -> None:
    """Exit 7 reported once, StepStarted once, the output once (so the step ran exactly once)."""
    done = await finished(env.bus, "build", deadline=30)
    assert (done.exit_code, done.reason) == (7, "Error")
    assert await count(env.bus, ev.StepFinished) == 1
    assert await count(env.bus, ev.StepStarted) == 1
    assert env.files("app-ci-1", "uid-1", "build").log.read_text() == "started\nafter\n"


async def test_killed_runner_reattaches_to_a_running_step(
    env: RunnerEnv, runner_process: RunnerProcess, repo_url: tuple[str, str], tmp_path: Path
) -> None:
    """SIGKILL of the runner leaves the step running; the next runner awaits it and reports it once."""
    url, sha = repo_url
    await env.bus.publish_many(run_events(gated_step(tmp_path / "gate"), repository=url, commit=sha))
    runner_process.start()
    await _started(env)
    runner_process.kill()
    runner_process.start()
    (tmp_path / "gate").touch()
    await _assert_reported_once(env)


async def test_killed_runner_reports_a_step_that_ended_while_it_was_down(
    env: RunnerEnv, runner_process: RunnerProcess, repo_url: tuple[str, str], tmp_path: Path
) -> None:
    """A step that finished with no runner up is reported by the next runner, with its real exit code."""
    url, sha = repo_url
    await env.bus.publish_many(run_events(gated_step(tmp_path / "gate"), repository=url, commit=sha))
    runner_process.start()
    await _started(env)
    runner_process.kill()
    (tmp_path / "gate").touch()
    await _exists(env.files("app-ci-1", "uid-1", "build").exit)
    assert await count(env.bus, ev.StepFinished) == 0
    runner_process.start()
    await _assert_reported_once(env)


async def test_a_step_whose_shim_died_with_the_runner_is_runner_lost(
    env: RunnerEnv, runner_process: RunnerProcess, repo_url: tuple[str, str], tmp_path: Path
) -> None:
    """With runner and shim both killed after the start, the restarted runner reports RunnerLost
    (saying the step may have run), and does not run it again."""
    url, sha = repo_url
    step = Step(
        name="build", image="alpine:3", commands=["echo shim=$PPID group=$$", "echo started", "sleep 300"]
    )
    await env.bus.publish_many(run_events(step, repository=url, commit=sha))
    runner_process.start()
    await _started(env)
    runner_process.kill()
    first_line = env.files("app-ci-1", "uid-1", "build").log.read_text().splitlines()[0]
    shim, group = (int(part.split("=")[1]) for part in first_line.split())
    os.kill(shim, signal.SIGKILL)
    os.killpg(group, signal.SIGKILL)
    runner_process.start()
    done = await finished(env.bus, "build", deadline=30)
    assert (done.exit_code, done.reason) == (None, "RunnerLost")
    assert f"shim pid {shim}" in done.message and "may already have had effects" in done.message
    assert env.files("app-ci-1", "uid-1", "build").log.read_text().count("started\n") == 1
    assert [e.type for e in await history(env.bus) if isinstance(e, ev.StepEvent)] == [
        "step.scheduled",
        "step.started",
        "step.finished",
    ]


PLAIN = Step(name="build", image="alpine:3", commands=["echo started", "echo after", "exit 7"])


async def test_a_claim_left_before_the_checkout_is_started_again(
    env: RunnerEnv, runner_process: RunnerProcess, repo_url: tuple[str, str]
) -> None:
    """A claim whose runner died before checking out (lock free, nothing else) runs once, not RunnerLost."""
    url, sha = repo_url
    events = run_events(PLAIN, repository=url, commit=sha)
    await env.bus.publish_many(events)
    claim_as_a_dead_runner(env, events)
    runner_process.start()
    await _assert_reported_once(env)
    assert "step.restarted" in runner_process.log()


async def test_a_runner_killed_during_the_checkout_is_followed_by_a_fresh_start(
    env: RunnerEnv, runner_process: RunnerProcess, gated_repo: tuple[TcpGate, str, str]
) -> None:
    """Killed while git clones (held at the gate), the step is started again by the next runner, once."""
    gate, url, sha = gated_repo
    await env.bus.publish_many(run_events(PLAIN, repository=url, commit=sha))
    runner_process.start()
    await asyncio.to_thread(gate.wait_held)
    files = env.files("app-ci-1", "uid-1", "build")
    assert files.claim.exists() and not files.started.exists()
    runner_process.kill()
    gate.drop()  # the orphaned clone fails, as when the server goes on without it
    runner_process.start()
    await _assert_reported_once(env)
    assert "step.restarted" in runner_process.log()


async def test_a_runner_killed_after_the_start_and_before_step_started_announces_it_later(
    env: RunnerEnv,
    runner_process: RunnerProcess,
    gated_repo: tuple[TcpGate, str, str],
    nats_server: NatsServer,
    tmp_path: Path,
) -> None:
    """The shim started the process but StepStarted could not be published (bus down) when the runner
    died: the next runner publishes it once, at the shim's start time, and reports the step once."""
    gate, url, sha = gated_repo
    await env.bus.publish_many(run_events(gated_step(tmp_path / "gate"), repository=url, commit=sha))
    runner_process.start()
    await asyncio.to_thread(gate.wait_held)
    await asyncio.to_thread(nats_server.stop)
    gate.release()
    await _started(env)
    runner_process.kill()
    await asyncio.to_thread(nats_server.start)
    assert await count(env.bus, ev.StepStarted) == 0
    runner_process.start()
    (tmp_path / "gate").touch()
    await _assert_reported_once(env)
    [started] = [e for e in await history(env.bus) if isinstance(e, ev.StepStarted)]
    marker = read_started(env.files("app-ci-1", "uid-1", "build"))
    assert marker is not None and started.at == marker.at
    assert "step.restarted" not in runner_process.log()
