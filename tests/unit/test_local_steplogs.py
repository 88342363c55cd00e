"""adapters.local.steplogs against files written the way the runner writes them (local_layout).

Covers: a finished step's log is read whole from byte 0; a log that grows is tailed and the
follower ends only after the exit file appears and the rest is read; a log that does not exist yet
is waited for; an exit file without a log ends with nothing; bytes are passed through untouched.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.local.steplogs import LocalStepLogs
from steps.plans import StepRef
from steps.runner_files import run_dir, step_exit_path, step_log_path

REF = StepRef(namespace="team-a", run="app-1", uid="u-1", step="build", job_name="app-1-build")
DEADLINE = 10.0


def write_exit(home: Path, code: int = 0) -> None:
    """Atomically, as the runner does: temp file then rename."""
    path = step_exit_path(home, REF)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{code}\n")
    tmp.replace(path)


async def collect(logs: LocalStepLogs) -> bytes:
    return b"".join([chunk async for chunk in logs.follow(REF)])


def test_paths_follow_the_layout(tmp_path: Path) -> None:
    """Log and exit files live in <home>/runs/<ns>/<run>/<uid>/."""
    assert step_log_path(tmp_path, REF) == tmp_path / "runs/team-a/app-1/u-1/build.log"
    assert step_exit_path(tmp_path, REF) == run_dir(tmp_path, "team-a", "app-1", "u-1") / "build.exit"


async def test_finished_step_is_read_whole(tmp_path: Path) -> None:
    """A log with its exit file is read from byte 0 to its end, in small chunks if need be."""
    step_log_path(tmp_path, REF).parent.mkdir(parents=True)
    data = bytes(range(256)) * 100
    step_log_path(tmp_path, REF).write_bytes(data)
    write_exit(tmp_path)
    assert await collect(LocalStepLogs(tmp_path, poll_seconds=0.01, chunk_size=1000)) == data


async def test_growing_log_is_tailed_until_exit(tmp_path: Path) -> None:
    """Output appended while following arrives, and the follower ends only after the exit file."""
    log_path = step_log_path(tmp_path, REF)
    log_path.parent.mkdir(parents=True)
    log_path.write_bytes(b"line 1\n")
    received: list[bytes] = []
    logs = LocalStepLogs(tmp_path, poll_seconds=0.01)

    async def follow() -> None:
        async for chunk in logs.follow(REF):
            received.append(chunk)

    task = asyncio.create_task(follow())
    await until(lambda: b"".join(received) == b"line 1\n")
    with log_path.open("ab") as f:
        f.write(b"line 2\n")
    await until(lambda: b"".join(received) == b"line 1\nline 2\n")
    assert not task.done()
    with log_path.open("ab") as f:
        f.write(b"last line\n")
    write_exit(tmp_path, 1)
    await asyncio.wait_for(task, DEADLINE)
    assert b"".join(received) == b"line 1\nline 2\nlast line\n"


async def test_missing_log_is_waited_for(tmp_path: Path) -> None:
    """Following before the runner created the log waits for it."""
    task = asyncio.create_task(collect(LocalStepLogs(tmp_path, poll_seconds=0.01)))
    await asyncio.sleep(0.05)  # give the follower time to find nothing; not waiting for state
    assert not task.done()
    step_log_path(tmp_path, REF).parent.mkdir(parents=True)
    step_log_path(tmp_path, REF).write_bytes(b"\xff\xfe not utf-8\n")
    write_exit(tmp_path)
    assert await asyncio.wait_for(task, DEADLINE) == b"\xff\xfe not utf-8\n"


async def test_exit_without_log_ends_empty(tmp_path: Path) -> None:
    """A step that ended without writing a log file yields nothing and ends."""
    run_dir(tmp_path, REF.namespace, REF.run, REF.uid).mkdir(parents=True)
    write_exit(tmp_path, 127)
    assert await asyncio.wait_for(collect(LocalStepLogs(tmp_path, poll_seconds=0.01)), DEADLINE) == b""


async def until(condition: object) -> None:
    assert callable(condition)
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not condition():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.01)
