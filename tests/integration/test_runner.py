"""The runner against a real nats-server, real git (served by `git daemon`) and a file:// store.

Covers: a step runs in a fresh checkout of the run's commit (not the branch head) with a clean
environment, the run's variables and its secrets; the exit code is recorded; the first failing
command fails the step; artifacts matching `**` globs are uploaded and announced; a checkout
failure fails the step (redacted message) without stopping the runner; the step timeout and a
cancelled or timed-out run kill the whole process group; a redelivered StepScheduled never runs
a step twice; steps beyond max_parallel_steps wait for a free slot (handed back after the slot
wait, started the moment a slot frees, never started when their run is cancelled meanwhile, and,
beyond the waiting queue, handed back without reading their run's history);
a step still starts when the runner's spare shim died.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from adapters.object_store import FsspecObjectStore
from api.meta import ObjectMeta
from api.pipelineconfig import SecretEnv, Step
from api.secret import Secret
from events import run as ev
from events.codec import AnyEvent
from events.subjects import run_subject
from ports.bus import Handler, Received
from services.runner.checkout import checkout
from services.runner.service import Runner, step_deps
from tests.integration.conftest import bus_settings, eventually
from tests.support.git_daemon import GitDaemon, GitRepo
from tests.support.runner_harness import (
    NS,
    RunnerEnv,
    count,
    finished,
    history,
    ident,
    run_events,
    running,
    stop_leftovers,
)


@dataclass(frozen=True)
class Served:
    url: str
    first: str
    second: str


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """app.git with two commits on main (version.txt: first, then second), over git://."""
    base = tmp_path / "repos"
    repo = GitRepo.create(base / "app.git")
    first = repo.commit({"version.txt": "first\n"}, "first")
    second = repo.commit({"version.txt": "second\n"}, "second")
    with GitDaemon(base) as daemon:
        yield Served(url=daemon.url("app.git"), first=first, second=second)


@pytest.fixture
async def env(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[RunnerEnv]:
    bus = await NatsBus.connect(bus_settings(nats_server))
    await bus.ensure_streams()
    store = KvStore.from_connection(bus.connection)
    await store.ensure_buckets()
    home = tmp_path / "home"
    yield RunnerEnv(
        bus=bus, store=store, objects=FsspecObjectStore((tmp_path / "objects").as_uri()), home=home
    )
    await stop_leftovers(home)
    await bus.close()


def step(*commands: str, **kw: object) -> Step:
    return Step(name="build", image="alpine:3", commands=list(commands), **kw)  # type: ignore[arg-type]


def log_of(env: RunnerEnv, run: str = "app-ci-1", uid: str = "uid-1") -> str:
    return env.files(run, uid, "build").log.read_text()


async def test_step_runs_in_fresh_checkout_of_the_commit_with_env_and_secrets(
    env: RunnerEnv, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step sees the run's commit (not main's head), its variables and secrets, and nothing else."""
    monkeypatch.setenv("RUNNER_ONLY_VARIABLE", "leak")
    secret = Secret(metadata=ObjectMeta(name="db", namespace=NS), string_data={"password": "hunter2-xyz"})
    await env.store.create(secret)
    commands = ["cat version.txt", "git rev-parse HEAD", "echo run=$C8S_RUN sha=$COMMIT_SHA branch=$BRANCH"]
    commands += ["echo pw=$DB_PASSWORD home=$HOME", "env | sort"]
    the_step = step(*commands, secrets=[SecretEnv(secret_ref="db", key="password", env_var="DB_PASSWORD")])
    await env.bus.publish_many(run_events(the_step, repository=served.url, commit=served.first))
    async with running(env.runner()):
        done = await finished(env.bus, "build")
    assert (done.exit_code, done.reason) == (0, "Completed")
    log = log_of(env)
    files = env.files("app-ci-1", "uid-1", "build")
    assert log.startswith(f"first\n{served.first}\nrun=app-ci-1 sha={served.first} branch=main\n")
    assert f"pw=hunter2-xyz home={files.step_home}\n" in log
    assert "RUNNER_ONLY_VARIABLE" not in log
    assert files.exit.read_text() == "0\n"
    assert await count(env.bus, ev.StepStarted) == 1


async def test_a_file_path_repository_is_cloned_too(tmp_path: Path) -> None:
    """A repository given as a plain path on this machine is checked out like a served one."""
    repo = GitRepo.create(tmp_path / "plain")
    first = repo.commit({"a.txt": "one\n"}, "one")
    repo.commit({"a.txt": "two\n"}, "two")
    workspace = tmp_path / "ws" / "workspace"
    base_env = {"PATH": os.environ["PATH"]}
    await checkout(str(repo.path), first[:10], workspace, auth=None, base_env=base_env, time_limit=30)
    assert (workspace / "a.txt").read_text() == "one\n"


async def test_first_failing_command_fails_the_step(env: RunnerEnv, served: Served) -> None:
    """Commands run under `sh -e`: the step ends with the first failure's exit code."""
    await env.bus.publish_many(
        run_events(step("echo one", "exit 3", "echo never"), repository=served.url, commit=served.second)
    )
    async with running(env.runner()):
        done = await finished(env.bus, "build")
    assert (done.exit_code, done.reason) == (3, "Error")
    assert log_of(env) == "one\n"
    assert env.files("app-ci-1", "uid-1", "build").exit.read_text() == "3\n"


async def test_artifacts_matching_globs_are_uploaded(env: RunnerEnv, served: Served) -> None:
    """Files matching `out/**` and `*.txt` are stored under the step's key and announced once each."""
    commands = ["mkdir -p out/sub", "echo a > out/a.bin", "echo b > out/sub/b.bin", "echo c > notes.log"]
    the_step = step(*commands, artifacts=["out/**", "version.txt"])
    await env.bus.publish_many(run_events(the_step, repository=served.url, commit=served.first))
    async with running(env.runner()):
        await finished(env.bus, "build")
    uploaded = [e for e in await _history(env) if isinstance(e, ev.ArtifactUploaded)]
    assert sorted(e.path for e in uploaded) == ["out/a.bin", "out/sub/b.bin", "version.txt"]
    by_path = {e.path: e for e in uploaded}
    assert by_path["out/sub/b.bin"].url.endswith("/team-a/app-ci-1/uid-1/build/artifacts/out/sub/b.bin")
    assert await env.objects.read(by_path["out/sub/b.bin"].url) == b"b\n"
    assert by_path["version.txt"].bytes == len("first\n")


async def test_checkout_failure_fails_the_step_and_the_runner_goes_on(env: RunnerEnv, served: Served) -> None:
    """An unknown repository or commit ends the step as CheckoutFailed with git's message."""
    missing = served.url.replace("app.git", "missing.git")
    await env.bus.publish_many(run_events(step("true"), repository=missing, commit=served.first))
    await env.bus.publish_many(
        run_events(step("echo fine"), repository=served.url, commit=served.first, run="app-ci-2", uid="uid-2")
    )
    async with running(env.runner()):
        failed = await finished(env.bus, "build")
        fine = await finished(env.bus, "build", run="app-ci-2")
    assert (failed.exit_code, failed.reason) == (None, "CheckoutFailed")
    assert "git clone failed" in failed.message
    assert (fine.exit_code, fine.reason) == (0, "Completed")
    assert await count(env.bus, ev.StepStarted) == 0


async def test_step_timeout_kills_the_process_group(env: RunnerEnv, served: Served, tmp_path: Path) -> None:
    """Past its timeout the step's whole group dies, a background child included; reason Timeout."""
    the_step = step(f"sleep 300 & echo $! > {tmp_path}/bg.pid", "sleep 300", timeout="1s")
    await env.bus.publish_many(run_events(the_step, repository=served.url, commit=served.first))
    async with running(env.runner()):
        done = await finished(env.bus, "build")
    assert done.reason == "Timeout"
    assert done.exit_code == 128 + 15
    background = int((tmp_path / "bg.pid").read_text())
    await eventually(_gone(background))


@pytest.mark.parametrize(
    ("stopping", "reason"),
    [
        (lambda i: ev.RunCancelled(message="by test", **i), "Cancelled"),
        (lambda i: ev.RunTimedOut(timeout="1h", **i), "Timeout"),
    ],
)
async def test_a_stopped_run_kills_its_running_steps(
    env: RunnerEnv, served: Served, stopping: object, reason: str, tmp_path: Path
) -> None:
    """RunCancelled and RunTimedOut kill the run's running step: reasons Cancelled and Timeout."""
    the_step = step("echo started", f"sleep 300 & echo $! > {tmp_path}/bg.pid", "sleep 300")
    await env.bus.publish_many(run_events(the_step, repository=served.url, commit=served.first))
    async with running(env.runner()):
        await eventually(_logged(env, "started\n"))
        await env.bus.publish(stopping(ident("app-ci-1", "uid-1")))  # type: ignore[operator]
        done = await finished(env.bus, "build")
    assert (done.exit_code, done.reason) == (128 + 15, reason)
    background = int((tmp_path / "bg.pid").read_text())
    await eventually(_gone(background))


async def test_redelivered_step_scheduled_does_not_run_the_step_twice(
    env: RunnerEnv, served: Served, tmp_path: Path
) -> None:
    """StepScheduled handled again (same runner, another runner on the same home, after the end)
    re-attaches to the claimed step instead of running it again."""
    tally = tmp_path / "tally"
    commands = [
        f"echo ran >> {tally}",
        "echo started",
        f"while [ ! -f {tmp_path / 'go'} ]; do sleep 0.02; done",
    ]
    events = run_events(step(*commands), repository=served.url, commit=served.first)
    await env.bus.publish_many(events)
    scheduled = Received(event=events[-1], seq=3, subject="c8s.run.team-a.app-ci-1", delivered=2)
    first, second = env.runner(), env.runner()
    async with running(first), running(second):
        await eventually(_logged(env, "started\n"))
        await first.handle(scheduled)
        await second.handle(scheduled)
        assert list(second.steps) == list(first.steps)
        (tmp_path / "go").touch()
        await finished(env.bus, "build")
    await env.runner().handle(scheduled)
    assert tally.read_text() == "ran\n"
    assert await count(env.bus, ev.StepFinished) == 1
    assert await count(env.bus, ev.StepStarted) == 1


async def _history(env: RunnerEnv) -> list[ev.RunEvent]:
    return await history(env.bus)


def _logged(env: RunnerEnv, text: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        path = env.files("app-ci-1", "uid-1", "build").log
        return path.exists() and text in path.read_text()

    return check


def _gone(pid: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not alive(pid)

    return check


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (an unreaped orphan counts as dead)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


async def test_steps_beyond_max_parallel_wait_for_a_free_slot(
    env: RunnerEnv, served: Served, tmp_path: Path
) -> None:
    """With one slot and a short slot wait, a second run's step is handed back (redelivered later)
    until the first ends."""
    gate = tmp_path / "gate"
    the_step = step("echo started", f"while [ ! -f {gate} ]; do sleep 0.02; done")
    await env.bus.publish_many(run_events(the_step, repository=served.url, commit=served.first))
    js = env.bus.connection.js

    async def refused() -> bool:
        info = await js.consumer_info("C8S_RUNS", "runner")
        return bool(info.num_redelivered)

    async with running(env.runner(max_parallel_steps=1, busy_retry_seconds=0.1, slot_wait_seconds=0.1)):
        await eventually(_logged(env, "started\n"))
        await env.bus.publish_many(second_run(the_step, served))
        await eventually(refused)
        assert not env.files("app-ci-2", "uid-2", "build").claim.exists()
        gate.touch()
        await finished(env.bus, "build", run="app-ci-2")
    assert (await finished(env.bus, "build")).exit_code == 0


async def test_a_waiting_step_takes_the_slot_the_moment_it_frees(
    env: RunnerEnv, served: Served, tmp_path: Path
) -> None:
    """A step beyond the only slot waits in the runner and starts once the first ends, never
    redelivered (the retry delay here is far beyond the test's deadline)."""
    gate = tmp_path / "gate"
    the_step = step("echo started", f"while [ ! -f {gate} ]; do sleep 0.02; done")
    await env.bus.publish_many(run_events(the_step, repository=served.url, commit=served.first))
    async with running(env.runner(max_parallel_steps=1, busy_retry_seconds=600)) as runner:
        await eventually(_logged(env, "started\n"))
        await env.bus.publish_many(second_run(the_step, served))
        await eventually(lambda: _true(runner.slots.waiting == 1))
        gate.touch()
        assert (await finished(env.bus, "build", run="app-ci-2")).exit_code == 0
    info = await env.bus.connection.js.consumer_info("C8S_RUNS", "runner")
    assert info.num_redelivered == 0


async def test_a_step_waiting_for_a_slot_of_a_cancelled_run_never_runs(
    env: RunnerEnv, served: Served, tmp_path: Path
) -> None:
    """A run cancelled while its step waits for a slot: the step ends Cancelled without starting."""
    gate = tmp_path / "gate"
    blocker = step("echo started", f"while [ ! -f {gate} ]; do sleep 0.02; done")
    await env.bus.publish_many(run_events(blocker, repository=served.url, commit=served.first))
    async with running(env.runner(max_parallel_steps=1, busy_retry_seconds=600)) as runner:
        await eventually(_logged(env, "started\n"))
        await env.bus.publish_many(second_run(step(f"touch {tmp_path / 'ran'}"), served))
        await eventually(lambda: _true(runner.slots.waiting == 1))
        await env.bus.publish(ev.RunCancelled(message="by test", **ident("app-ci-2", "uid-2")))
        await eventually(lambda: _true("uid-2" in runner.stopped))
        gate.touch()
        done = await finished(env.bus, "build", run="app-ci-2")
    assert (done.reason, done.exit_code) == ("Cancelled", None)
    assert not (tmp_path / "ran").exists()


class CountingBus(NatsBus):
    """The real bus, counting history reads per subject and deliveries of StepScheduled per run."""

    def __init__(self, bus: NatsBus) -> None:
        super().__init__(bus.connection)
        self.reads: Counter[str] = Counter()
        self.deliveries: dict[str, int] = {}

    async def history(self, subject: str) -> list[Received]:
        self.reads[subject] += 1
        return await super().history(subject)

    async def consume(
        self, durable: str, subjects: Sequence[str], handler: Handler, *args: Any, **kw: Any
    ) -> None:
        async def counted(received: Received) -> None:
            if isinstance(received.event, ev.StepScheduled):
                self.deliveries[received.event.run] = received.delivered
            await handler(received)

        await super().consume(durable, subjects, counted, *args, **kw)


async def test_a_step_beyond_the_waiting_queue_is_handed_back_without_reading_history(
    env: RunnerEnv, served: Served, tmp_path: Path
) -> None:
    """One slot taken and the one queue place taken: a third run's StepScheduled is handed back
    on every delivery without its run's history being read, and runs once the slot frees."""
    gate = tmp_path / "gate"
    the_step = step("echo started", f"while [ ! -f {gate} ]; do sleep 0.02; done")
    bus = CountingBus(env.bus)
    settings = env.settings(max_parallel_steps=1, max_waiting_steps=1, busy_retry_seconds=0.05)
    await bus.publish_many(run_events(the_step, repository=served.url, commit=served.first))
    async with running(Runner(step_deps(settings, bus, env.objects), env.store, settings)) as runner:
        await eventually(_logged(env, "started\n"))
        await bus.publish_many(second_run(the_step, served))
        await eventually(lambda: _true(runner.slots.waiting == 1))
        third = run_events(the_step, repository=served.url, commit=served.first, run="app-ci-3", uid="uid-3")
        await bus.publish_many(third)
        await eventually(lambda: _true(bus.deliveries.get("app-ci-3", 0) >= 3))
        assert bus.reads[run_subject(NS, "app-ci-3")] == 0
        gate.touch()
        assert (await finished(bus, "build", run="app-ci-3")).exit_code == 0
    assert bus.reads[run_subject(NS, "app-ci-3")] >= 1


def second_run(the_step: Step, served: Served) -> list[AnyEvent]:
    """Run app-ci-2's events: published once the first run's step holds the slot, since the
    runner handles messages concurrently (stream order does not decide who gets a slot)."""
    return run_events(the_step, repository=served.url, commit=served.first, run="app-ci-2", uid="uid-2")


async def _true(value: bool) -> bool:
    return value


async def test_a_step_starts_in_a_fresh_shim_when_the_spare_is_gone(
    env: RunnerEnv, served: Served, tmp_path: Path
) -> None:
    """The runner's spare shim killed before it is handed a step: the step still runs, in a shim
    started for it, and the next step gets a new spare."""
    async with running(env.runner()) as runner:
        spare = await eventually(runner.deps.launcher.spare)
        spare.proc.kill()
        await spare.proc.wait()
        ran = tmp_path / "ran"
        await env.bus.publish_many(
            run_events(step(f"touch {ran}"), repository=served.url, commit=served.first)
        )
        assert (await finished(env.bus, "build")).exit_code == 0
        assert ran.exists()
        following = await runner.deps.launcher.spare()
        assert following is not None and following.proc.returncode is None
